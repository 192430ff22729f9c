import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension DashboardBrowserTests {
  /// A form POST from the page's own script, as a forged request would be sent: returns the
  /// final status (fetch follows the 303 of an accepted action).
  static func post(_ page: BrowserPage, _ path: String, _ body: String) throws -> Int64? {
    try page.evaluate(
      """
      fetch(\(BrowserPage.quote(path)), {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/x-www-form-urlencoded"},
        body: \(BrowserPage.quote(body))}).then(r => r.status)
      """
    ).intValue
  }

  @Test func aScriptPayloadIsShownAsTextAndNeverRuns() throws {
    let f = try DashboardFixture.get()
    let evil = #"<script>window.__xss=1;alert(1)</script><img src=x onerror=\"window.__xss=2\">"#
    let scheduled = try f.enqueue(#"{"type":"noop","delay":"1h","payload":{"html":"\#(evil)"}}"#)
    let dead = try f.enqueue(#"{"type":"bad","payload":{"message":"\#(evil)"}}"#)
    try f.harness.waitUntil("the evil job is dead") { try f.jobState(dead) == "dead" }
    let page = try f.browser.newPage()
    defer { page.close() }
    for (path, name) in [
      ("/ui/jobs/\(scheduled)", "job"), ("/ui/jobs/\(dead)", "job"), ("/ui/jobs", "jobs"),
      ("/ui", "overview"),
    ] {
      try f.open(path, expect: name, page: page)
      #expect(try page.evaluate("typeof window.__xss").stringValue == "undefined", "\(path)")
      #expect(try page.count("img") == 0, "\(path) rendered an <img> from a payload")
      #expect(try page.count("main script") == 0, "\(path)")
    }
    // The job page shows the payload as the text it is.
    try f.open("/ui/jobs/\(scheduled)", expect: "job", page: page)
    #expect(
      try page.text("#job-payload")?.contains(#"<script>window.__xss=1;alert(1)</script>"#)
        == true)
    try f.open("/ui/jobs/\(dead)", expect: "job", page: page)
    #expect(try page.text("tr[data-attempt='1']")?.contains("<img src=x onerror=") == true)
    try f.shot(page, "job-escaped")
    #expect(page.dialogs.isEmpty, "\(page.dialogs)")
    f.expectNoProblems(page)
  }

  @Test func aPostWithoutTheRightCSRFTokenIsRefused() throws {
    let f = try DashboardFixture.get()
    let id = try f.enqueue(#"{"type":"noop","delay":"1h","payload":{"for":"csrf"}}"#)
    let page = try f.open("/ui/jobs/\(id)", expect: "job")
    let csrf = try #require(
      try page.evaluate("document.querySelector('form[data-action=cancel] input[name=csrf]').value")
        .stringValue)
    #expect(!csrf.isEmpty)
    // Logged in, but a forged token or none: 403, and the job is untouched.
    #expect(try Self.post(page, "/ui/jobs/\(id)/cancel", "csrf=forged&back=/ui") == 403)
    #expect(try Self.post(page, "/ui/jobs/\(id)/cancel", "back=/ui") == 403)
    #expect(try Self.post(page, "/ui/jobs/\(id)/cancel", "csrf=\(csrf)x&back=/ui") == 403)
    #expect(try Self.post(page, "/ui/actions/cancel", "id=\(id)&csrf=forged") == 403)
    #expect(try f.jobState(id) == "scheduled")
    // The refusals were network errors in the page's log; nothing else went wrong.
    let problems = page.takeProblems().filter { !$0.contains("403") }
    #expect(problems.isEmpty, "\(problems)")
    // The control: the page's own token does cancel (so the refusals above were real).
    #expect(try Self.post(page, "/ui/jobs/\(id)/cancel", "csrf=\(csrf)&back=/ui") == 200)
    #expect(try f.jobState(id) == "cancelled")
  }

  @Test func theReadTokenSeesNoActionsAndItsPostsAreRefused() throws {
    let f = try DashboardFixture.get()
    let id = try f.enqueue(#"{"type":"noop","delay":"1h","payload":{"for":"reader"}}"#)
    let page = try f.browser.newPage(isolated: true)
    defer { page.close() }
    try DashboardFixture.logIn(page, base: f.base, token: DashboardFixture.readToken)
    for (path, name) in [
      ("/ui", "overview"), ("/ui/jobs", "jobs"), ("/ui/jobs/\(id)", "job"),
      ("/ui/processes", "processes"), ("/ui/schedules", "schedules"),
    ] {
      try f.open(path, expect: name, page: page)
      #expect(try page.count("[data-action]") == 0, "\(path) shows actions to a reader")
      #expect(try page.count("input[type=checkbox][name=id]") == 0, "\(path)")
      #expect(try page.count("form#bulk") == 0, "\(path)")
    }
    // It sees the data.
    try f.open("/ui/jobs/\(id)", expect: "job", page: page)
    #expect(try page.text("#job-payload")?.contains("reader") == true)
    try f.shot(page, "job-read-only")
    // Its session's own CSRF token (from the log-out form) does not make a POST allowed.
    let csrf =
      try page.evaluate("document.querySelector('input[name=csrf]')?.value ?? ''").stringValue
      ?? ""
    #expect(try Self.post(page, "/ui/jobs/\(id)/cancel", "csrf=\(csrf)&back=/ui") == 403)
    #expect(try Self.post(page, "/ui/pools/work/drain", "csrf=\(csrf)&back=/ui") == 403)
    #expect(try f.jobState(id) == "scheduled")
    #expect(try f.pool("work")["paused"]?.boolValue == false)
    let problems = page.takeProblems().filter { !$0.contains("403") }
    #expect(problems.isEmpty, "\(problems)")
  }
}
