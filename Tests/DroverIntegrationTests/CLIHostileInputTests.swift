import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// Hostile input to `drover enqueue`: payloads must not change silently, sizes are bounded.
@Suite("CLI: hostile enqueue input")
struct CLIHostileInputTests {
  static let exact = #"{"big":12345678901234567890,"huge":1e400,"neg":-0,"f":1.50}"#

  /// True when the store holds no job (or was never created: nothing got that far).
  func nothingStored(_ f: CLIFixture) throws -> Bool {
    guard FileManager.default.fileExists(atPath: f.storePath) else { return true }
    return try SQLiteStore(path: f.storePath).list(ListParams(limit: 10)).isEmpty
  }

  /// The raw `jobs show --json` text, which must hold the payload's numbers as sent.
  func shown(_ f: CLIFixture, _ id: JobID) throws -> String {
    let r = try f.drover(["jobs", "show", String(id), "--json"])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    return r.stdoutText
  }

  @Test func numbersAreStoredAndShownExactlyAsSent() throws {
    let f = try CLIFixture()
    let single = try f.enqueue(["email", Self.exact])
    let batch = try f.write("b.ndjson", #"{"type":"email","payload":\#(Self.exact)}"# + "\n")
    let r = try f.drover(["enqueue", "--batch", batch])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    let jobs = try SQLiteStore(path: f.storePath).list(ListParams(limit: 10))
    #expect(jobs.count == 2)
    for job in jobs { #expect(job.payload == Self.exact) }
    #expect(try shown(f, single).contains(#""payload":\#(Self.exact)"#))
  }

  @Test func duplicatedKeysAreRefusedNamingTheKeyAndLine() throws {
    let f = try CLIFixture()
    let r = try f.drover(["enqueue", "email", #"{"to":"a","to":"b"}"#])
    #expect(r.exitCode == 64)
    #expect(r.stderrText.contains(#"duplicate key "to""#), "\(r.stderrText)")
    let batch = try f.write(
      "b.ndjson", #"{"type":"email"}"# + "\n" + #"{"type":"email","payload":{"k":1,"k":1}}"# + "\n")
    let b = try f.drover(["enqueue", "--batch", batch])
    #expect(b.exitCode == 1)
    #expect(b.stderrText.contains("line 2 of"), "\(b.stderrText)")
    #expect(b.stderrText.contains(#"duplicate key "k""#), "\(b.stderrText)")
    #expect(try nothingStored(f))
  }

  @Test func invalidUTF8IsRefusedNotRepaired() throws {
    let f = try CLIFixture()
    // A shell builds the argument: byte 0xFF is no UTF-8 anywhere.
    let r = try ChildProcess.run(
      "/bin/sh",
      [
        "-c", #"exec "$0" enqueue email "$(printf '{"s":"\377"}')" --config "$1""#, f.binary,
        f.configPath,
      ],
      environment: f.environment())
    #expect(r.exitCode == 64, "\(r.stderrText)")
    #expect(r.stderrText.contains("not valid UTF-8"), "\(r.stderrText)")
    let line2 = Array(#"{"type":"email","payload":{"s":""#.utf8) + [0xFF] + Array("\"}}\n".utf8)
    let b = try ChildProcess.run(
      f.binary, ["enqueue", "--batch", "-", "--config", f.configPath],
      environment: f.environment(), stdin: Array(#"{"type":"email"}"#.utf8) + [0x0A] + line2)
    #expect(b.exitCode == 1)
    #expect(b.stderrText.contains("line 2 of stdin: not valid UTF-8"), "\(b.stderrText)")
    #expect(try nothingStored(f))
  }

  @Test func payloadsAboveMaxPayloadAreRefused() throws {
    let f = try CLIFixture(
      config: CLIFixture.defaultConfig.replacingOccurrences(
        of: "path = \"var/drover.db\"", with: "path = \"var/drover.db\"\nmax_payload = \"2KiB\""))
    let big = #"{"s":""# + String(repeating: "x", count: 3000) + #""}"#
    let r = try f.drover(["enqueue", "email", big])
    #expect(r.exitCode == 1)
    #expect(
      r.stderrText.contains("the payload is \(big.utf8.count) bytes, more than max_payload (2048"),
      "\(r.stderrText)")
    let batch = try f.write(
      "b.ndjson", #"{"type":"email"}"# + "\n" + #"{"type":"email","payload":\#(big)}"# + "\n")
    let b = try f.drover(["enqueue", "--batch", batch])
    #expect(b.exitCode == 1)
    #expect(b.stderrText.contains("line 2 of"), "\(b.stderrText)")
    #expect(b.stderrText.contains("max_payload"), "\(b.stderrText)")
    #expect(try nothingStored(f))
  }

  @Test func endlessBatchInputStopsAtTheLineLimit() throws {
    let f = try CLIFixture()
    let z = try f.drover(["enqueue", "--batch", "/dev/zero"], timeout: .seconds(60))
    #expect(z.exitCode == 1)
    #expect(z.stderrText.contains("line 1 of /dev/zero is longer than"), "\(z.stderrText)")
    let s = try f.drover(
      ["enqueue", "--batch", "-"],
      stdin: #"{"type":"email"}"# + "\n" + String(repeating: "x", count: 2 << 20))
    #expect(s.exitCode == 1)
    #expect(s.stderrText.contains("line 2 of stdin is longer than"), "\(s.stderrText)")
    #expect(try nothingStored(f))
  }

  @Test func delaysBeyondOneHundredYearsAreRefusedNotWrapped() throws {
    let f = try CLIFixture()
    let r = try f.drover(["enqueue", "email", "--delay", "106751990d"])
    #expect(r.exitCode == 64)
    #expect(r.stderrText.contains("--delay must be at most 36500d"), "\(r.stderrText)")
    let a = try f.drover(["enqueue", "email", "--at", "9999-01-01T00:00:00Z"])
    #expect(a.exitCode == 64)
    #expect(a.stderrText.contains("--at must be at most 100 years ahead"), "\(a.stderrText)")
    let batch = try f.write("b.ndjson", #"{"type":"email","delay":"106751990d"}"# + "\n")
    let b = try f.drover(["enqueue", "--batch", batch])
    #expect(b.exitCode == 1)
    #expect(b.stderrText.contains(#"line 1 of"#) && b.stderrText.contains(#""delay""#))
    #expect(try nothingStored(f))
  }
}
