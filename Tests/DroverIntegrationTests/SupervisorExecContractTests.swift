import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension SupervisorTests.Exec {
  /// A pool `ex` running a Python script (`python3` from PATH).
  static func python(_ source: String, _ lines: String...) throws -> SupervisorHarness {
    let h = try SupervisorHarness(pools: "")
    let path = try h.write("job.py", "#!/usr/bin/env python3\n" + source + "\n", mode: 0o755)
    try h.writeConfig(
      SupervisorHarness.configText(
        pools: "[pools.ex]\n"
          + ([#"handler = "exec""#, #"command = ["\#(path)"]"#, "min = 1", "max = 1"] + lines)
          .joined(separator: "\n") + "\n"))
    return h
  }

  /// A Python traceback: the error names the exit status, keeps the traceback's lines, `jobs
  /// list` shows its last line (the exception) first, and stderr and non-protocol stdout lines
  /// are in the log with the job's metadata.
  @Test func aPythonTracebackIsReadableInShowListAndTheLog() throws {
    let h = try Self.python(
      """
      import json, os, sys
      job = json.load(sys.stdin)
      print("working on", job["n"], "attempt", os.environ["DROVER_ATTEMPT"], "of",
            os.environ["DROVER_MAX_ATTEMPTS"], flush=True)
      print("PROGRESS 40", flush=True)
      def divide(a, b):
          return a / b
      divide(job["n"], 0)
      """, "max_attempts = 1")
    try h.start()
    let id = try h.enqueue("ex", #"{"n": 7}"#)
    try h.waitUntil("the job is dead", timeout: .seconds(15)) { try h.jobState(id) == "dead" }
    let message = try #require(try h.jobErrors(id).first)
    #expect(message.hasPrefix("command exited with status 1\nTraceback (most recent call last):\n"))
    #expect(message.contains("\n    return a / b\n"), "\(message)")
    #expect(message.hasSuffix("ZeroDivisionError: division by zero\n"), "\(message)")

    let list = try h.drover(["jobs", "list", "--state", "dead"]).stdoutText
    #expect(
      list.contains("ZeroDivisionError: division by zero (command exited with status 1)"),
      "\(list)")
    let show = try h.drover(["jobs", "show", String(id)]).stdoutText
    #expect(show.contains("\n    Traceback (most recent call last):\n"), "\(show)")

    let log = h.log()
    let logged = log.split(separator: "\n").filter { $0.contains("job_id=\(id)") }
    #expect(
      logged.contains {
        $0.contains("working on 7 attempt 1 of 1") && $0.contains("stream=stdout")
      },
      "\(log.suffix(2000))")
    #expect(
      logged.contains {
        $0.contains("ZeroDivisionError: division by zero") && $0.contains("stream=stderr")
          && $0.contains("type=ex") && $0.contains("attempt=1") && $0.contains("worker_pid=")
      }, "\(log.suffix(2000))")
    #expect(!logged.contains { $0.contains("PROGRESS 40") }, "protocol lines are not logged")
    #expect(try h.stop().exitCode == 0)
  }

  /// `RETRY-AFTER n` with exit 75: the job runs again about n seconds later without spending
  /// an attempt or recording an error, and sees how many times it was put off in
  /// `DROVER_SNOOZES`; the second run completes.
  @Test func retryAfterWithExit75PutsTheJobOffWithoutSpendingAnAttempt() throws {
    let h = try Self.python(
      """
      import os, sys
      d = os.path.dirname(sys.argv[0])
      with open(os.path.join(d, "runs.txt"), "a") as f:
          f.write(os.environ["DROVER_ATTEMPT"] + " " + os.environ["DROVER_SNOOZES"] + "\\n")
      if os.environ["DROVER_SNOOZES"] == "0":
          print("RETRY-AFTER 1", flush=True)
          print("upstream said 429", file=sys.stderr)
          sys.exit(75)
      """, "max_attempts = 1")
    try h.start()
    let id = try h.enqueue("ex")
    try h.waitUntil("the job completed", timeout: .seconds(15)) {
      try h.jobState(id) == "completed"
    }
    let runs = try String(contentsOfFile: h.dir.file("runs.txt"), encoding: .utf8)
    #expect(runs == "1 0\n1 1\n", "same attempt, one snooze")
    let job = try h.job(id)
    #expect(job["attempts"]?.intValue == 1)
    #expect(job["snoozes"]?.intValue == 1)
    #expect(job["errors"]?.arrayValue?.isEmpty == true)
    #expect(try h.stop().exitCode == 0)
  }

  /// A command that snoozes forever is ended at the pool's `max_snoozes`, with an error that
  /// says so.
  @Test func maxSnoozesEndsAJobThatAlwaysSnoozes() throws {
    let h = try Self.harness(script: "echo SNOOZE 0", "max_snoozes = 2")
    try h.start()
    let id = try h.enqueue("ex")
    try h.waitUntil("the job is dead", timeout: .seconds(15)) { try h.jobState(id) == "dead" }
    let job = try h.job(id)
    #expect(job["snoozes"]?.intValue == 2)
    let message = try #require(try h.jobErrors(id).first)
    #expect(message.contains("max_snoozes (2)"), "\(message)")
    #expect(try h.stop().exitCode == 0)
  }

  /// The exit code stays on the error when stderr has text; RETRY-AFTER with a failing exit
  /// is ignored (the failure counts).
  @Test func retryAfterIsIgnoredUnlessTheCommandExits75() throws {
    let h = try Self.harness(
      script: "echo RETRY-AFTER 1; echo 'bad input' >&2; exit 2", "max_attempts = 3")
    try h.start()
    let id = try h.enqueue("ex")
    try h.waitUntil("the job is dead", timeout: .seconds(15)) { try h.jobState(id) == "dead" }
    #expect(try h.jobErrors(id) == ["command exited with status 2\nbad input\n"])
    #expect(try h.stop().exitCode == 0)
  }

  /// A command printing far more than the rate limit lets through: the log holds at most the
  /// burst, then one line counting what was dropped; each line is cut at 1 KiB.
  @Test func aChattyCommandIsRateLimitedAndTruncatedInTheLog() throws {
    let h = try Self.harness(
      script: """
        i=0; while [ $i -lt 1000 ]; do echo "line $i"; i=$((i+1)); done
        head -c 3000 /dev/zero | tr '\\0' y; echo
        """)
    try h.start()
    let id = try h.enqueue("ex")
    try h.waitUntil("the job completed", timeout: .seconds(15)) {
      try h.jobState(id) == "completed"
    }
    try h.waitUntil("the dropped lines are reported", timeout: .seconds(5)) {
      h.log().contains("lines of the command's output were not logged")
    }
    let lines = h.log().split(separator: "\n").filter {
      $0.contains("job_id=\(id)") && $0.contains("stream=stdout")
    }
    #expect(lines.count <= 150, "\(lines.count) lines logged")
    #expect(
      lines.contains {
        $0.contains(" line 0 ") || $0.contains(" line 0\"") || $0.contains("line 0")
      })
    #expect(try h.stop().exitCode == 0)
  }
}
