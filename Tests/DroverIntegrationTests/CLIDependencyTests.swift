import DroverCore
import DroverStore
import DroverTestSupport
import Testing

/// `enqueue --after`, batch refs, `jobs show` links and `jobs cancel --cascade`, through the
/// real binary.
@Suite("CLI dependencies")
struct CLIDependencyTests {
  @Test func afterKeepsAJobWaitingAndShowListsTheLinks() throws {
    let f = try CLIFixture()
    let a = try f.enqueue(["email"])
    let b = try f.enqueue(["email"])
    let c = try f.enqueue(["report", "--after", "\(a), \(b)", "--on-parent-failure", "run"])
    let shown = try f.show(c)
    #expect(shown["state"] == "waiting")
    #expect(shown["on_parent_failure"] == "run")
    #expect(
      shown["parents"] == [
        ["id": .int(a), "state": "queued"], ["id": .int(b), "state": "queued"],
      ])
    #expect(shown["children"] == [])
    #expect(shown["why"] == .string("waiting on parents #\(a), #\(b) (0 of 2 done)"))
    #expect(try f.show(a)["children"] == [["id": .int(c), "state": "waiting"]])
    #expect(try f.stats()["waiting"] == 1)
    let text = try f.drover(["jobs", "show", String(c)])
    #expect(text.stdoutText.contains("parents:"))
    #expect(text.stdoutText.contains("#\(a) (queued), #\(b) (queued)"))
    #expect(text.stdoutText.contains("waiting on parents"))
    let listed = try f.drover(["jobs", "list", "--state", "waiting", "--json"])
    #expect(listed.exitCode == 0, "\(listed.stderrText)")
    let jobs = try JSONValue.parse(listed.stdoutText).arrayValue ?? []
    #expect(jobs.map { $0["id"] } == [.int(c)])
    #expect(jobs.first?["parents"]?.arrayValue?.count == 2)
  }

  @Test func badParentsAreRefused() throws {
    let f = try CLIFixture()
    let a = try f.enqueue(["email"])
    for (after, message) in [
      ("x", #"--after: "x" is not a job id"#), ("0", #""0" is not a job id"#),
      ("\(a),", #""" is not a job id"#),
    ] {
      let r = try f.drover(["enqueue", "email", "--after", after])
      #expect(r.exitCode == 64, "\(after): \(r.stderrText)")
      #expect(r.stderrText.contains(message), "\(after): \(r.stderrText)")
    }
    let unknown = try f.drover(["enqueue", "email", "--after", "\(a),\(a + 41)"])
    #expect(unknown.exitCode == 1)
    #expect(unknown.stderrText.contains("unknown parent #\(a + 41)"), "\(unknown.stderrText)")
    let policy = try f.drover(["enqueue", "email", "--after", "\(a)", "--on-parent-failure", "x"])
    #expect(policy.exitCode == 64)
    #expect(policy.stderrText.contains("--on-parent-failure must be cancel or run"))
    let alone = try f.drover(["enqueue", "email", "--on-parent-failure", "run"])
    #expect(alone.exitCode == 64)
    #expect(alone.stderrText.contains("needs --after"))
    #expect(try f.stats()["queued"] == 1)
    #expect(try f.stats()["waiting"] == 0)
  }

  @Test func batchRefsMakeAGraphInOneTransaction() throws {
    let f = try CLIFixture()
    let existing = try f.enqueue(["email"])
    // "d" names lines before and after it; "b" comes after the line that waits on it.
    let lines = [
      #"{"type": "email", "ref": "d", "after": ["b", "c"]}"#,
      #"{"type": "email", "ref": "a"}"#,
      #"{"type": "email", "ref": "b", "after": ["a"]}"#,
      #"{"type": "email", "ref": "c", "after": ["a", \#(existing)], "on_parent_failure": "run"}"#,
    ]
    let path = try f.write("graph.ndjson", lines.joined(separator: "\n"))
    let r = try f.drover(["enqueue", "--batch", path])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.trimmedStdout == "4")
    let store = try f.openStore()
    let jobs = try store.list(ListParams()).sorted { $0.id < $1.id }
    #expect(jobs.count == 5)
    let (d, a, b, c) = (jobs[1], jobs[2], jobs[3], jobs[4])
    #expect(a.state == .queued)
    #expect(d.state == .waiting)
    #expect(d.parents.map(\.id) == [b.id, c.id])
    #expect(b.parents.map(\.id) == [a.id])
    #expect(c.parents.map(\.id) == [existing, a.id])
    #expect(c.onParentFailure == .run)
    #expect(a.children.map(\.id) == [b.id, c.id])

    // Refused whole, naming the line or the refs: unknown ref, a cycle, a ref used twice.
    let bad: [([String], String)] = [
      (
        [#"{"type": "email"}"#, #"{"type": "email", "after": ["nope"]}"#],
        #"line 2: "after" names ref "nope", which no job of the batch has"#
      ),
      (
        [
          #"{"type": "email", "ref": "x", "after": ["y"]}"#,
          #"{"type": "email", "ref": "y", "after": ["x"]}"#,
        ],
        "a dependency cycle among refs: x → y → x"
      ),
      (
        [#"{"type": "email", "ref": "x"}"#, #"{"type": "email", "ref": "x"}"#],
        #"line 2: ref "x" is already used by line 1"#
      ),
      ([#"{"type": "email", "after": [99999]}"#], "unknown parent #99999"),
      ([#"{"type": "email", "after": [1.5]}"#], #""after" entries must be job ids"#),
    ]
    for (batch, message) in bad {
      let out = try f.drover(["enqueue", "--batch", "-"], stdin: batch.joined(separator: "\n"))
      #expect(out.exitCode == 1, "\(batch)")
      #expect(out.stderrText.contains(message), "\(batch): \(out.stderrText)")
    }
    #expect(try store.list(ListParams()).count == 5)
  }

  @Test func cancelWithCascadeTakesTheSubtree() throws {
    let f = try CLIFixture()
    let a = try f.enqueue(["email"])
    let b = try f.enqueue(["email", "--after", "\(a)", "--on-parent-failure", "run"])
    let c = try f.enqueue(["email", "--after", "\(b)"])
    let plain = try f.enqueue(["email", "--after", "\(c)", "--on-parent-failure", "run"])
    let r = try f.drover(["jobs", "cancel", String(a), "--cascade"])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.stderrText.contains("with its waiting subtree"))
    for id in [a, b, c, plain] { #expect(try f.show(id)["state"] == "cancelled", "\(id)") }
    #expect(
      try f.show(c)["errors"]?.arrayValue?.first?["message"] == .string("parent #\(b) cancelled"))

    // Without --cascade each child follows its policy.
    let p = try f.enqueue(["email"])
    let runs = try f.enqueue(["email", "--after", "\(p)", "--on-parent-failure", "run"])
    let cancels = try f.enqueue(["email", "--after", "\(p)"])
    #expect(try f.drover(["jobs", "cancel", String(p)]).exitCode == 0)
    #expect(try f.show(runs)["state"] == "queued")
    #expect(try f.show(cancels)["state"] == "cancelled")
    #expect(try f.drover(["jobs", "cancel", String(cancels)]).exitCode == 1)
  }
}
