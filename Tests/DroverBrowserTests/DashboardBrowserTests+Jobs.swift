import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension DashboardBrowserTests {
  /// The ids of the job rows on the page, in order.
  static func rowIDs(_ page: BrowserPage) throws -> [Int64] {
    try page.evaluate(
      "[...document.querySelectorAll('table.jobs tr[data-job-id]')].map(r => Number(r.dataset.jobId))"
    ).arrayValue?.compactMap(\.intValue) ?? []
  }

  @Test func jobsPageFiltersByTheFormAndPagesByCursor() throws {
    let f = try DashboardFixture.get()
    let page = try f.open("/ui/jobs", expect: "jobs")
    // The filter form, filled in and submitted like a person does: a bookmarkable URL.
    try page.select("form.filters select[name=state]", "completed")
    try page.type("form.filters input[name=type]", "noop")
    try page.clickAndWait("form.filters button")
    let url = try page.url()
    #expect(url.contains("state=completed") && url.contains("type=noop"), "\(url)")
    let first = try Self.rowIDs(page)
    #expect(first.count == 50, "\(first.count) rows")
    let states = try page.evaluate(
      "[...new Set([...document.querySelectorAll('table.jobs tr[data-job-id]')].map(r => r.dataset.state))]"
    )
    #expect(states == ["completed"], "\(states.render())")
    try f.shot(page, "jobs")
    // The next page by its cursor: older jobs, none repeated.
    try page.clickAndWait("#next-page")
    let second = try Self.rowIDs(page)
    #expect(!second.isEmpty && second.count <= 50)
    #expect(second.allSatisfy { $0 < first.min()! }, "\(first) then \(second)")
    #expect(try page.count("#first-page") == 1)
    #expect(try page.url().contains("state=completed"))
    // The bookmarked URL gives the same first page again.
    try page.navigate(url)
    #expect(try Self.rowIDs(page) == first)
    // Payload text.
    try page.navigate(
      f.base + "/ui/jobs?q=" + "\"n\":42}".addingPercentEncoding(
        withAllowedCharacters: .alphanumerics)!)
    let hits = try Self.rowIDs(page)
    #expect(hits.count == 1, "\(hits)")
    #expect(try page.text("table.jobs td.payload")?.contains(#""n":42"#) == true)
    // A bad filter is named on the page.
    try page.navigate(f.base + "/ui/jobs?from=yesterday")
    #expect(try page.count("#filter-error") == 1)
    let problems = page.takeProblems().filter { !$0.contains("400") }
    #expect(problems.isEmpty, "\(problems)")
  }

  @Test func jobPageShowsPayloadAttemptsAndWhy() throws {
    let f = try DashboardFixture.get()
    let dead = try f.api.get("/jobs?state=dead&type=bad&limit=1", token: DashboardFixture.token)
      .json()["jobs"]?.arrayValue?.first?["id"]?.intValue
    let id = try #require(dead)
    let page = try f.open("/ui/jobs/\(id)", expect: "job")
    #expect(try page.text("#job-payload")?.contains("upstream said 502") == true)
    #expect(try page.count("tr[data-attempt='1']") == 1)
    let attempt = try #require(try page.text("tr[data-attempt='1']"))
    #expect(attempt.contains("upstream said 502"), "\(attempt)")
    // The attempt names the worker pid that ran it.
    let pid = try f.job(id)["errors"]?.arrayValue?.first?["pid"]?.intValue
    if let pid { #expect(attempt.contains(String(pid)), "\(attempt) lacks pid \(pid)") }
    #expect(try page.text("#job-why")?.isEmpty == false)
    #expect(try page.count("progress#job-progress") == 1)
    #expect(try page.count("form[data-action=requeue]") == 1)
    #expect(try page.count("form[data-action=cancel]") == 0)
    try f.shot(page, "job")
    f.expectNoProblems(page)
  }

  @Test func cancelRetryAndRequeueButtonsChangeTheStore() throws {
    let f = try DashboardFixture.get()
    // Cancel a scheduled job from its page.
    let later = try f.enqueue(#"{"type":"noop","delay":"1h","payload":{"for":"cancel"}}"#)
    let page = try f.open("/ui/jobs/\(later)", expect: "job")
    try page.clickAndWait("form[data-action=cancel] button")
    try page.waitFor("document.querySelector('#flash')")
    #expect(try f.jobState(later) == "cancelled")
    // Retry it: it runs now.
    try page.clickAndWait("form[data-action=retry] button")
    try f.harness.waitUntil("the retried job completes") { try f.jobState(later) == "completed" }
    // Requeue a dead job: it runs (and fails) again.
    let dead = try f.enqueue(#"{"type":"bad","payload":{"message":"nope"}}"#)
    try f.harness.waitUntil("the job is dead") { try f.jobState(dead) == "dead" }
    try f.open("/ui/jobs/\(dead)", expect: "job")
    try page.clickAndWait("form[data-action=requeue] button")
    try f.harness.waitUntil("the requeued job failed a second time") {
      try f.job(dead)["errors"]?.arrayValue?.count == 2 && f.jobState(dead) == "dead"
    }
    // The selected rows on the jobs page: two scheduled jobs cancelled at once.
    let a = try f.enqueue(#"{"type":"noop","delay":"1h","payload":{"pick":1}}"#)
    let b = try f.enqueue(#"{"type":"noop","delay":"1h","payload":{"pick":2}}"#)
    try f.open("/ui/jobs?state=scheduled", expect: "jobs")
    try page.click("input[name=id][value='\(a)']")
    try page.click("input[name=id][value='\(b)']")
    try page.clickAndWait("#bulk button[data-action=cancel]:not([data-scope])")
    try page.waitFor("document.querySelector('#flash')")
    #expect(try f.jobState(a) == "cancelled" && f.jobState(b) == "cancelled")
    f.expectNoProblems(page)
  }

  @Test func bulkRequeueByFilterShowsADryRunCountThenConfirms() throws {
    let f = try DashboardFixture.get()
    let deadBefore = try f.stats()["dead"] ?? 0
    let page = try f.open("/ui/jobs?state=dead&type=bad", expect: "jobs")
    try page.clickAndWait("#bulk button[data-action=requeue][data-scope=filter]")
    try page.waitFor("document.querySelector('form[data-confirm]')")
    #expect(try page.text("#dry-run-count") == String(deadBefore))
    // Nothing has changed before the confirmation.
    #expect(try f.stats()["dead"] == deadBefore)
    try f.shot(page, "confirm")
    let ids =
      try f.api.get("/jobs?state=dead&type=bad", token: DashboardFixture.token).json()["jobs"]?
      .arrayValue ?? []
    #expect(ids.count == Int(deadBefore))
    try page.clickAndWait("form[data-confirm] button")
    try page.waitFor("document.querySelector('#flash')")
    // Every one of them ran again (one more failed attempt each) and is dead again.
    try f.harness.waitUntil("every requeued job failed once more") {
      try ids.allSatisfy {
        let id = $0["id"]!.intValue!
        let before = $0["errors"]?.arrayValue?.count ?? 0
        return try f.job(id)["errors"]?.arrayValue?.count == before + 1
          && f.jobState(id) == "dead"
      }
    }
    // Written to the audit log, with who.
    try f.open("/ui/audit", expect: "audit")
    #expect(try page.count("tr[data-audit-action=requeue]") >= 1)
    try f.shot(page, "audit")
    f.expectNoProblems(page)
  }
}
