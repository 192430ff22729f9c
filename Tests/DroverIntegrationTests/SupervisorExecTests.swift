import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// The `exec` handler's protocol (CONTRACT.md) as a command sees it: its environment, its
  /// stdout lines, its exit status and stderr in the job's errors, cancel.
  @Suite("exec")
  struct Exec {
    /// A pool `ex` running `script` (a file, so arguments are not this test's business).
    static func harness(script: String, _ lines: String...) throws -> SupervisorHarness {
      let h = try SupervisorHarness(pools: "")
      let path = try h.write("ex.sh", "#!/bin/sh\n" + script + "\n", mode: 0o755)
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: "[pools.ex]\n"
            + ([#"handler = "exec""#, #"command = ["\#(path)"]"#, "min = 1", "max = 1"] + lines)
            .joined(separator: "\n") + "\n"))
      return h
    }

    /// `DROVER_JOB_ID`, `DROVER_JOB_TYPE`, `DROVER_ATTEMPT`, `DROVER_MAX_ATTEMPTS`; the
    /// payload on stdin.
    @Test func theCommandSeesItsJobInTheEnvironmentAndThePayloadOnStdin() throws {
      let h = try Self.harness(
        script: """
          out=$(dirname "$0")/seen.txt
          echo "$DROVER_JOB_ID $DROVER_JOB_TYPE $DROVER_ATTEMPT $DROVER_MAX_ATTEMPTS" > "$out.tmp"
          cat >> "$out.tmp"; mv "$out.tmp" "$out"
          [ "$DROVER_ATTEMPT" -ge 2 ] || exit 75
          """, "max_attempts = 4", #"backoff = { base = "10ms", cap = "10ms" }"#)
      try h.start()
      let id = try h.enqueue("ex", #"{"n": 1}"#)
      try h.waitUntil("the job completed", timeout: .seconds(60)) {
        try h.jobState(id) == "completed"
      }
      let seen = try String(contentsOfFile: h.dir.file("seen.txt"), encoding: .utf8)
      #expect(seen == "\(id) ex 2 4\n{\"n\": 1}" || seen == "\(id) ex 2 4\n{\"n\":1}", "\(seen)")
      #expect(try h.stop().exitCode == 0)
    }

    /// The error text names the exit status and keeps stderr's line breaks; only the last
    /// 4 KiB of stderr stay.
    @Test func theErrorNamesTheExitStatusAndKeepsTheStderrTail() throws {
      let h = try Self.harness(
        script: """
          head -c 10000 /dev/zero | tr '\\0' x >&2
          printf '\\nfirst line\\nlast line\\n' >&2
          exit 3
          """, "max_attempts = 1")
      try h.start()
      let id = try h.enqueue("ex")
      try h.waitUntil("the job is dead", timeout: .seconds(60)) { try h.jobState(id) == "dead" }
      let message = try #require(try h.jobErrors(id).first)
      #expect(message.hasPrefix("command exited with status 3\n"), "\(message.prefix(80))")
      #expect(message.hasSuffix("xxx\nfirst line\nlast line\n"), "\(message.suffix(80))")
      let stderrPart = message.utf8.count - "command exited with status 3\n".utf8.count
      #expect(stderrPart == 4096, "the last 4 KiB of stderr")
      #expect(try h.stop().exitCode == 0)
    }

    /// `SNOOZE <seconds>` then exit 0: the job runs again that much later, without spending an
    /// attempt or recording an error. After a failing exit the failure counts instead.
    @Test func snoozeRunsTheJobAgainLaterWithoutSpendingAnAttempt() throws {
      let h = try Self.harness(
        script: """
          dir=$(dirname "$0"); mode=$(cat)
          case $mode in *fail*) echo SNOOZE 0.1; echo broken >&2; exit 3;; esac
          if [ ! -e "$dir/snoozed" ]; then
            date +%s.%N > "$dir/snoozed"; echo "attempt $DROVER_ATTEMPT"; echo SNOOZE 1.5; exit 0
          fi
          date +%s.%N > "$dir/again"; echo "$DROVER_ATTEMPT" > "$dir/again-attempt"
          """, "max_attempts = 3")
      try h.start()
      let id = try h.enqueue("ex", #"{"mode": "snooze"}"#)
      try h.waitUntil("the job completed", timeout: .seconds(60), every: .milliseconds(100)) {
        try h.jobState(id) == "completed"
      }
      let job = try h.job(id)
      #expect(job["attempts"]?.intValue == 1, "a snooze spends no attempt: \(job.render())")
      #expect(try h.jobErrors(id).isEmpty)
      func time(_ name: String) throws -> Double {
        let text = try String(contentsOfFile: h.dir.file(name), encoding: .utf8)
        return try #require(Double(text.trimmingCharacters(in: .whitespacesAndNewlines)))
      }
      let gap = try time("again") - time("snoozed")
      #expect(gap >= 1.4 && gap < 10, "ran again \(gap) s after the snooze")
      let attempt = try String(contentsOfFile: h.dir.file("again-attempt"), encoding: .utf8)
      #expect(attempt == "1\n", "the run after a snooze is still attempt 1")

      let failing = try h.enqueue("ex", #"{"mode": "fail"}"#)
      try h.waitUntil("the failing job is dead", timeout: .seconds(60)) {
        try h.jobState(failing) == "dead"
      }
      #expect(try h.job(failing)["attempts"]?.intValue == 1)
      #expect(try h.jobErrors(failing).first?.contains("status 3\nbroken") == true)
      #expect(try h.stop().exitCode == 0)
    }

    /// A payload far larger than a pipe holds: a command that never reads it completes (the
    /// worker is not killed by SIGPIPE), and so does one that writes a lot of output before it
    /// reads (no deadlock).
    @Test func aBigPayloadNeverDeadlocksOrKillsTheWorker() throws {
      let h = try Self.harness(
        script: """
          case $1 in
            ignore) exit 0;;
            chatty) head -c 1000000 /dev/zero | tr '\\0' x; head -c 1000000 /dev/zero >&2
              wc -c | grep -q '^2621[0-9][0-9]$' || exit 4;;
          esac
          """)
      // Two pools on one script: the argument says how to treat stdin.
      let script = h.dir.file("ex.sh")
      try h.writeConfig(
        SupervisorHarness.configText(
          pools: poolTable(
            "ignore", #"handler = "exec""#, #"command = ["\#(script)", "ignore"]"#, "min = 1",
            "max = 1", "max_attempts = 1")
            + poolTable(
              "chatty", #"handler = "exec""#, #"command = ["\#(script)", "chatty"]"#, "min = 1",
              "max = 1", "max_attempts = 1")))
      try h.start()
      let workers = try h.workerPIDs("ignore")
      let blob = String(repeating: "y", count: 256 * 1024)
      let batch = ["ignore", "ignore", "chatty"].map {
        #"{"type": "\#($0)", "payload": {"blob": "\#(blob)"}}"#
      }
      let file = try h.write("batch.ndjson", batch.joined(separator: "\n") + "\n")
      #expect(try h.drover(["enqueue", "--batch", file]).exitCode == 0)
      try h.waitUntil("the jobs are final", timeout: .seconds(20), every: .milliseconds(100)) {
        try storeJobs(h).allSatisfy { $0.state == .completed || $0.state == .dead }
      }
      for job in try storeJobs(h) {
        #expect(job.state == .completed, "\(job.type) job \(job.id): \(job.errors)")
      }
      #expect(try h.workerPIDs("ignore") == workers, "the worker survived")
      #expect(try h.stop().exitCode == 0)
    }

    /// `jobs cancel` of a running command: SIGTERM ends it, the job is `cancelled` at once and
    /// the worker lives on.
    @Test func cancellingARunningCommandTerminatesIt() throws {
      let h = try Self.harness(
        script: #"echo $$ > "$(dirname "$0")/cmd.pid"; exec sleep 30"#, "max_attempts = 1")
      try h.start()
      let id = try h.enqueue("ex")
      var commandPID: Int32 = 0
      try h.waitUntil("the command runs") {
        guard let text = try? String(contentsOfFile: h.dir.file("cmd.pid"), encoding: .utf8),
          let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { return false }
        commandPID = pid
        return SupervisorHarness.isAlive(pid)
      }
      let workers = try h.workerPIDs("ex")
      let t0 = ContinuousClock.now
      #expect(try h.drover(["jobs", "cancel", String(id)]).exitCode == 0)
      try h.waitUntil("the job is cancelled", timeout: .seconds(5), every: .milliseconds(50)) {
        try h.jobState(id) == "cancelled"
      }
      #expect(seconds(since: t0) < 3, "SIGTERM, not the SIGKILL after the grace")
      #expect(!SupervisorHarness.isAlive(commandPID))
      #expect(try h.workerPIDs("ex") == workers)
      #expect(try h.stop().exitCode == 0)
    }
  }
}
