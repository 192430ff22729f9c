import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

@Suite("CLI jobs and dead")
struct CLIJobsTests {
  /// Claims the next `email` job through the store API, as a supervisor would.
  private func claim(_ store: SQLiteStore, types: [String] = ["email"]) throws -> JobID {
    let result = try store.apply(StoreBatch(claims: [ClaimParams(types: types, limit: 1)]))
    return try #require(result.claimed.first?.first?.id)
  }

  /// Claims one job and settles it with `settlement`.
  private func settle(_ store: SQLiteStore, _ settlement: Settlement) throws -> JobID {
    let id = try claim(store)
    _ = try store.apply(
      StoreBatch(finishes: [FinishParams(id: id, settlement: settlement)], promoteDue: false))
    return id
  }

  @Test func listFiltersByStateAndTypeAndPrintsJSON() throws {
    let f = try CLIFixture()
    let a = try f.enqueue(["email"])
    let b = try f.enqueue(["report", "--delay", "1h"])
    let c = try f.enqueue(["email", "--priority", "-4"])

    let all = try f.drover(["jobs", "list", "--json"])
    #expect(all.exitCode == 0)
    let array = try #require(try JSONValue.parse(all.stdoutText).arrayValue)
    #expect(array.map { $0["id"] } == [.int(c), .int(b), .int(a)], "newest first")
    #expect(array.allSatisfy { $0["payload"] == [:] && $0["errors"] == [] })
    #expect(array.first?["priority"] == -4)

    let queued = try f.drover(["jobs", "list", "--state", "queued", "--json"])
    #expect(try JSONValue.parse(queued.stdoutText).arrayValue?.count == 2)
    let reports = try f.drover(["jobs", "list", "--type", "report", "--json"])
    #expect(try JSONValue.parse(reports.stdoutText).arrayValue?.map { $0["id"] } == [.int(b)])
    let limited = try f.drover(["jobs", "list", "--limit", "1", "--json"])
    #expect(try JSONValue.parse(limited.stdoutText).arrayValue?.map { $0["id"] } == [.int(c)])
    #expect(
      limited.stderrText.contains("showing 1 of 3 jobs")
        && limited.stderrText.contains("--after \(c)"), "\(limited.stderrText)")
    // Following the note pages through every job exactly once; the last page has no note.
    let next = try f.drover(["jobs", "list", "--limit", "1", "--after", "\(c)", "--json"])
    #expect(try JSONValue.parse(next.stdoutText).arrayValue?.map { $0["id"] } == [.int(b)])
    #expect(next.stderrText.contains("--after \(b)"), "\(next.stderrText)")
    let rest = try f.drover(["jobs", "list", "--limit", "5", "--after", "\(b)", "--json"])
    #expect(try JSONValue.parse(rest.stdoutText).arrayValue?.map { $0["id"] } == [.int(a)])
    #expect(rest.stderrText.isEmpty, "a list that is not cut says nothing: \(rest.stderrText)")
    let emailTotal = try f.drover(["jobs", "list", "--type", "email", "--limit", "1"])
    #expect(emailTotal.stderrText.contains("showing 1 of 2 jobs"), "\(emailTotal.stderrText)")
    let none = try f.drover(["jobs", "list", "--state", "dead", "--json"])
    #expect(none.trimmedStdout == "[]")

    let table = try f.drover(["jobs", "list", "--state", "scheduled"])
    let rows = table.stdoutText.split(separator: "\n")
    #expect(rows.count == 2)
    #expect(rows[0].contains("STATE") && rows[0].contains("RUN_AT"))
    #expect(rows[1].contains("scheduled") && rows[1].contains("report"))
  }

  @Test func anUnknownStateNameListsTheValidOnes() throws {
    let f = try CLIFixture()
    let r = try f.drover(["jobs", "list", "--state", "finished"])
    #expect(r.exitCode == 64)
    #expect(r.stderrLines.count == 1)
    #expect(r.stderrText.contains("finished"))
    for s in JobState.allCases { #expect(r.stderrText.contains(s.name)) }
  }

  @Test func statsCountsEveryState() throws {
    let f = try CLIFixture()
    _ = try f.enqueue(["email"])
    _ = try f.enqueue(["email", "--delay", "1h"])
    #expect(
      try f.stats() == [
        "waiting": 0, "scheduled": 1, "queued": 1, "running": 0, "completed": 0, "cancelled": 0,
        "dead": 0,
      ])
    let r = try f.drover(["jobs", "stats", "--json"])
    let keys = try JSONValue.parse(r.stdoutText).objectValue?.map(\.key)
    #expect(
      keys == ["waiting", "scheduled", "queued", "running", "completed", "cancelled", "dead"])
    let text = try f.drover(["jobs", "stats"])
    #expect(text.stdoutText.contains("queued"))
    #expect(text.stdoutText.split(separator: "\n").count == 7)
  }

  @Test func showOfAnUnknownIdFails() throws {
    let f = try CLIFixture()
    let r = try f.drover(["jobs", "show", "999"])
    #expect(r.exitCode == 1)
    #expect(r.stderrText == "drover: no job with id 999\n")
  }

  @Test func cancelQueuedThenRetryCancelled() throws {
    let f = try CLIFixture()
    let id = try f.enqueue(["email"])
    let cancel = try f.drover(["jobs", "cancel", String(id)])
    #expect(cancel.exitCode == 0)
    #expect(cancel.trimmedStdout == String(id))
    #expect(cancel.stderrText.contains("cancelled"))
    let job = try f.show(id)
    #expect(job["state"] == "cancelled")
    #expect(job["finished_at"]?.stringValue != nil)

    let again = try f.drover(["jobs", "cancel", String(id)])
    #expect(again.exitCode == 1)
    #expect(again.stderrLines.count == 1)
    #expect(again.stderrText.contains("cancelled"))

    let retry = try f.drover(["jobs", "retry", String(id)])
    #expect(retry.exitCode == 0, "\(retry.stderrText)")
    #expect(retry.trimmedStdout == String(id))
    #expect(try f.show(id)["state"] == "queued")
  }

  @Test func cancelOfARunningJobRequestsIt() throws {
    let f = try CLIFixture()
    let id = try f.enqueue(["email"])
    let store = try f.openStore()
    #expect(try claim(store) == id)
    let r = try f.drover(["jobs", "cancel", String(id)])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    #expect(r.stderrText.contains("cancel requested"))
    let job = try f.show(id)
    #expect(job["state"] == "running")
    #expect(job["cancel_requested"] == true)
    #expect(job["started_at"]?.stringValue != nil)
  }

  @Test func retryOfACompletedJobAndCancelOfADeadOneAreRefused() throws {
    let f = try CLIFixture()
    _ = try f.enqueue(["email"])
    _ = try f.enqueue(["email"])
    let store = try f.openStore()
    let completed = try settle(store, .outcome(.completed))
    let dead = try settle(store, .outcome(.permanent("smtp said no")))
    #expect(try f.show(completed)["state"] == "completed")
    #expect(try f.show(completed)["progress"] == 100)

    let retry = try f.drover(["jobs", "retry", String(completed)])
    #expect(retry.exitCode == 1)
    #expect(retry.stdoutText.isEmpty)
    #expect(retry.stderrLines.count == 1)
    #expect(retry.stderrText.hasPrefix("drover: "))
    #expect(retry.stderrText.contains("completed"), "\(retry.stderrText)")
    #expect(retry.stderrText.contains("dead"), "names the allowed states: \(retry.stderrText)")

    let cancel = try f.drover(["jobs", "cancel", String(dead)])
    #expect(cancel.exitCode == 1)
    #expect(cancel.stderrLines.count == 1)
    #expect(cancel.stderrText.contains("dead"), "\(cancel.stderrText)")
    #expect(try f.show(dead)["state"] == "dead")

    let missing = try f.drover(["jobs", "retry", "12345"])
    #expect(missing.exitCode == 1)
    #expect(missing.stderrText.contains("12345"))
  }

  @Test func deadListAndRequeue() throws {
    let f = try CLIFixture()
    for _ in 0..<4 { _ = try f.enqueue(["email"]) }
    let store = try f.openStore()
    var dead: [JobID] = []
    for n in 0..<3 { dead.append(try settle(store, .outcome(.permanent("boom \(n)")))) }

    let list = try f.drover(["dead", "list", "--json"])
    #expect(list.exitCode == 0)
    let jobs = try #require(try JSONValue.parse(list.stdoutText).arrayValue)
    #expect(jobs.map { $0["id"] } == dead.reversed().map { .int($0) })
    let errors = try #require(jobs.last?["errors"]?.arrayValue)
    #expect(errors.count == 1)
    #expect(errors.first?["attempt"] == 1)
    #expect(errors.first?["message"] == "boom 0")
    #expect(errors.first?["at"]?.stringValue.flatMap(Timestamp.parse) != nil)
    #expect(jobs.last?["attempts"] == 1)

    let table = try f.drover(["dead", "list", "--limit", "2"])
    let rows = table.stdoutText.split(separator: "\n")
    #expect(rows.count == 3)
    #expect(rows[1].contains("boom 2"))

    let one = try f.drover(["dead", "requeue", String(dead[0])])
    #expect(one.exitCode == 0, "\(one.stderrText)")
    #expect(one.trimmedStdout == String(dead[0]))
    let requeued = try f.show(dead[0])
    #expect(requeued["state"] == "queued")
    #expect(requeued["attempts"] == 1)
    #expect(requeued["max_attempts"] == 6, "5 more on top of the 1 used")
    #expect(requeued["errors"]?.arrayValue?.count == 1)

    let notDead = try f.drover(["dead", "requeue", String(dead[0])])
    #expect(notDead.exitCode == 1)
    #expect(notDead.stderrText.contains("queued"))

    let all = try f.drover(["dead", "requeue", "--all"])
    #expect(all.exitCode == 0)
    #expect(all.trimmedStdout == "2")
    #expect(try f.stats()["dead"] == 0)
    #expect(try f.stats()["queued"] == 4)

    let neither = try f.drover(["dead", "requeue"])
    #expect(neither.exitCode == 64)
    let both = try f.drover(["dead", "requeue", "1", "--all"])
    #expect(both.exitCode == 64)
  }
}

/// `jobs cancel` / `jobs retry` / `jobs delete` by filter, with `--dry-run`.
@Suite("CLI: bulk cancel and retry")
struct CLIBulkJobsTests {
  @Test func aFilterCancelsAndRetriesEveryMatchAndADryRunChangesNothing() throws {
    let f = try CLIFixture()
    var emails: Set<String> = []
    for _ in 0..<5 { emails.insert(String(try f.enqueue(["email", "{}"]))) }
    let report = try f.enqueue(["report", "{}"])

    let dry = try f.drover(["jobs", "cancel", "--state", "queued", "--type", "email", "--dry-run"])
    #expect(dry.exitCode == 0, "\(dry.stderrText)")
    #expect(Set(dry.stdoutText.split(separator: "\n").map(String.init)) == emails)
    #expect(dry.stderrText.contains("5 jobs would be cancelled (dry run"), "\(dry.stderrText)")
    #expect(try f.stats()["queued"] == 6)

    let done = try f.drover(["jobs", "cancel", "--state", "queued", "--type", "email"])
    #expect(done.exitCode == 0, "\(done.stderrText)")
    #expect(Set(done.stdoutText.split(separator: "\n").map(String.init)) == emails)
    #expect(done.stderrText.contains("5 jobs cancelled"), "\(done.stderrText)")
    #expect(try f.stats()["cancelled"] == 5)
    #expect(try f.show(report)["state"] == "queued")

    let retried = try f.drover(["jobs", "retry", "--state", "cancelled"])
    #expect(retried.exitCode == 0, "\(retried.stderrText)")
    #expect(Set(retried.stdoutText.split(separator: "\n").map(String.init)) == emails)
    #expect(try f.stats()["queued"] == 6)
  }

  @Test func aBulkRunNamesWhatIsWrongWithItsArguments() throws {
    let f = try CLIFixture()
    let id = try f.enqueue(["email", "{}"])
    let cases: [([String], String)] = [
      (["jobs", "cancel"], "give a job ID, or --state"),
      (["jobs", "cancel", "--state", "completed"], "completed jobs cannot be cancelled"),
      (["jobs", "retry", "--state", "queued"], "queued jobs cannot be retried"),
      (["jobs", "delete", "--state", "running"], "running jobs cannot be deleted"),
      (["jobs", "delete"], "give a job ID, or --state"),
      (["jobs", "cancel", "\(id)", "--state", "queued"], "give one or the other"),
      (["jobs", "cancel", "--state", "nope"], "unknown state"),
    ]
    for (args, message) in cases {
      let r = try f.drover(args)
      #expect(r.exitCode != 0, "\(args)")
      #expect(r.stderrText.contains(message), "\(args): \(r.stderrText)")
    }
    #expect(try f.stats()["queued"] == 1)
  }

  @Test func deleteRemovesOneJobOrEveryMatchAndADryRunDeletesNothing() throws {
    let f = try CLIFixture()
    var cancelled: Set<String> = []
    for _ in 0..<3 {
      let id = try f.enqueue(["email", "{}"])
      _ = try f.drover(["jobs", "cancel", String(id)])
      cancelled.insert(String(id))
    }
    let single = try f.enqueue(["report", "{}"])
    let newest = try f.enqueue(["email", "{}"])

    let dry = try f.drover(["jobs", "delete", "--state", "cancelled", "--dry-run"])
    #expect(dry.exitCode == 0, "\(dry.stderrText)")
    #expect(Set(dry.stdoutText.split(separator: "\n").map(String.init)) == cancelled)
    #expect(dry.stderrText.contains("3 jobs would be deleted (dry run"), "\(dry.stderrText)")
    #expect(try f.stats()["cancelled"] == 3)

    let bulk = try f.drover(["jobs", "delete", "--state", "cancelled"])
    #expect(bulk.exitCode == 0, "\(bulk.stderrText)")
    #expect(Set(bulk.stdoutText.split(separator: "\n").map(String.init)) == cancelled)
    #expect(try f.stats()["cancelled"] == 0)
    for id in cancelled {
      let gone = try f.drover(["jobs", "show", id])
      #expect(gone.exitCode != 0 && gone.stderrText.contains("no job with id \(id)"))
    }

    let one = try f.drover(["jobs", "delete", String(single)])
    #expect(one.exitCode == 0, "\(one.stderrText)")
    #expect(one.trimmedStdout == String(single))
    let kept = try f.drover(["jobs", "delete", String(newest)])
    #expect(kept.exitCode != 0)
    #expect(kept.stderrText.contains("newest job"), "\(kept.stderrText)")
    #expect(try f.show(newest)["state"] == "queued")
    let unknown = try f.drover(["jobs", "delete", "999999"])
    #expect(unknown.exitCode != 0 && unknown.stderrText.contains("no job with id 999999"))
  }
}
