import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// The web dashboard driven in a real headless Chromium against a real `drover serve` on
/// 127.0.0.1: the login form, pages with real data, every action changing the store, a live
/// update without a reload, and the XSS, CSRF and read-token cases refused. Each test leaves
/// a screenshot of its page (see `DashboardFixture.screenshots`).
@Suite("dashboard in a browser", .serialized, .dashboardFixture, .timeLimit(.minutes(5)))
struct DashboardBrowserTests {
  @Test func loginFormSetsAnHttpOnlySessionCookie() throws {
    let f = try DashboardFixture.get()
    let page = try f.browser.newPage(isolated: true)
    defer { page.close() }
    // Not logged in: the overview sends the browser to the form.
    try page.navigate(f.base + "/ui")
    try page.waitFor("document.querySelector('main#page-login form#login')")
    #expect(try page.url() == f.base + "/ui/login")
    try f.shot(page, "login")
    // A wrong token: the form again, with an error, and no cookie.
    try page.type("form#login input[name=token]", "not-the-token")
    try page.clickAndWait("form#login button")
    try page.waitFor("document.querySelector('#login-error')")
    #expect(try page.cookies(for: f.base + "/ui").isEmpty)
    // The right one: the overview, and a session cookie scripts cannot read.
    try page.type("form#login input[name=token]", DashboardFixture.token)
    try page.clickAndWait("form#login button")
    try page.waitFor("document.querySelector('main#page-overview')")
    let cookie = try #require(
      try page.cookies(for: f.base + "/ui").first { $0["name"]?.stringValue == "drover_session" })
    #expect(cookie["httpOnly"]?.boolValue == true)
    #expect(cookie["sameSite"]?.stringValue == "Strict")
    #expect(cookie["path"]?.stringValue == "/ui")
    #expect(try !page.documentCookie().contains("drover_session"))
    #expect(try page.text("main#page-overview h1")?.contains("Overview") == true)
    // The login page's refused attempt logged a 401; nothing else went wrong.
    let problems = page.takeProblems().filter { !$0.contains("401") }
    #expect(problems.isEmpty, "\(problems)")
  }

  @Test func overviewShowsRealPoolsQueuesAndFailures() throws {
    let f = try DashboardFixture.get()
    let page = try f.open("/ui", expect: "overview")
    for pool in ["work", "bad", "sleepy"] {
      #expect(try page.count("tr[data-pool=\(pool)]") == 1, "pool \(pool)")
    }
    // The work pool's counts add up to its workers in the API (reloading while another
    // test's scale-down still retires one: the two reads are not one snapshot).
    try f.harness.waitUntil("the overview's work pool counts match the API") {
      try page.reload()
      let shown = try page.evaluate(
        """
        ["busy", "idle", "starting", "retiring"].map(k =>
          Number(document.querySelector('[data-live="pool.work.' + k + '"]').textContent))
          .reduce((a, b) => a + b, 0)
        """)
      let workers = try f.pool("work")["workers"]?.arrayValue?.count ?? -1
      return shown.intValue == Int64(workers) && workers >= 1
    }
    #expect(try page.text("[data-live='pool.work.state']")?.isEmpty == false)
    // Queues by type with the store's counts (other tests of the suite may have added jobs).
    let noopCompleted = try Self.cell(page, type: "noop", column: "Completed")
    #expect((noopCompleted ?? 0) >= 60, "\(noopCompleted ?? -1)")
    let dead = try f.api.get("/jobs?state=dead&type=bad&limit=500", token: DashboardFixture.token)
      .json()["jobs"]?.arrayValue?.count
    #expect(try Self.cell(page, type: "bad", column: "Dead") == dead)
    let scheduled = try f.api.get(
      "/jobs?state=scheduled&type=noop&limit=500", token: DashboardFixture.token
    ).json()["jobs"]?.arrayValue?.count
    #expect(try Self.cell(page, type: "noop", column: "Scheduled") == scheduled)
    // Recent failures: the dead jobs, with their error text.
    #expect(try page.count("table.failures tr[data-job-id][data-state=dead]") >= 3)
    #expect(try page.text("table.failures")?.contains("upstream said 502") == true)
    #expect(try page.count("svg.chart") >= 2)
    f.expectNoProblems(page)
  }

  /// The number in the overview's queue table for `type` under the heading `column`.
  static func cell(_ page: BrowserPage, type: String, column: String) throws -> Int? {
    let v = try page.evaluate(
      """
      (() => {
        const heads = [...document.querySelectorAll('table.queues thead th')].map(h => h.textContent);
        const row = document.querySelector('table.queues tr[data-type=\(type)]');
        const i = heads.indexOf(\(BrowserPage.quote(column)));
        return row && i >= 0 ? Number(row.cells[i].textContent) : null;
      })()
      """)
    return v.intValue.map(Int.init)
  }

  @Test func liveUpdatesArriveWithoutAReload() throws {
    let f = try DashboardFixture.get()
    let page = try f.open("/ui", expect: "overview")
    try page.waitFor("document.body.getAttribute('data-live-status') === 'open'")
    try page.evaluate("window.__sameDocument = 42")
    let loads = page.loads
    #expect(try page.text("[data-live='events.count']") == "0")
    // A job enqueued through the API shows up as an event on the open page.
    let id = try f.enqueue(#"{"type":"noop","payload":{"live":true}}"#)
    try page.waitFor(
      "document.querySelector('[data-live=\"last-event\"]').textContent.includes('#\(id)')")
    #expect(
      try page.evaluate(
        "Number(document.querySelector('[data-live=\"events.count\"]').textContent)"
      ).intValue ?? 0 >= 1)
    // One from the CLI too.
    let viaCLI = try f.harness.enqueue("noop", #"{"live":"cli"}"#)
    try page.waitFor(
      "document.querySelector('[data-live=\"last-event\"]').textContent.includes('#\(viaCLI)')")
    // A long job: the sleepy pool's busy count goes to 1 and back to 0, live.
    let sleeper = try f.enqueue(#"{"type":"sleep","payload":{"ms":3000}}"#)
    try page.waitFor(
      "document.querySelector('[data-live=\"pool.sleepy.busy\"]').textContent === '1'")
    try f.shot(page, "overview")
    try page.waitFor(
      "document.querySelector('[data-live=\"pool.sleepy.busy\"]').textContent === '0'")
    #expect(try f.jobState(sleeper) == "completed")
    // All of it without a reload: same document, no new load.
    #expect(try page.evaluate("window.__sameDocument").intValue == 42)
    #expect(page.loads == loads)
    f.expectNoProblems(page)
  }
}
