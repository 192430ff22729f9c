import DroverCore
import DroverTestSupport
import Foundation
import Testing

extension DashboardBrowserTests {
  @Test func processesPageScalesDrainsAndResumes() throws {
    let f = try DashboardFixture.get()
    let page = try f.open("/ui/processes", expect: "processes")
    #expect(try page.text("#supervisor-pid") == String(try f.harness.supervisor().pid))
    #expect(try page.count("section#pool-work tr[data-worker-pid]") >= 1)
    // Scale the work pool to 3 with its form.
    try page.type("section#pool-work form[data-action=scale] input[name=workers]", "3")
    try page.clickAndWait("section#pool-work form[data-action=scale] button")
    try page.waitFor("document.querySelector('#flash')")
    #expect(try page.text("#flash")?.contains("3") == true)
    #expect(try f.pool("work")["target"]?.intValue == 3)
    try f.harness.waitUntil("three work workers") {
      try f.pool("work")["workers"]?.arrayValue?.count == 3
    }
    try page.reload()
    try page.waitFor(
      "document.querySelectorAll('section#pool-work tr[data-worker-pid]').length === 3")
    try f.shot(page, "processes")
    // Drain the sleepy pool, then resume it.
    try page.clickAndWait("section#pool-sleepy form[data-action=drain] button")
    try f.harness.waitUntil("the sleepy pool is paused") {
      try f.pool("sleepy")["paused"]?.boolValue == true
    }
    try page.waitFor("document.querySelector('section#pool-sleepy form[data-action=resume]')")
    try page.clickAndWait("section#pool-sleepy form[data-action=resume] button")
    try f.harness.waitUntil("the sleepy pool runs again") {
      try f.pool("sleepy")["paused"]?.boolValue == false
    }
    // Back to one worker.
    try page.type("section#pool-work form[data-action=scale] input[name=workers]", "1")
    try page.clickAndWait("section#pool-work form[data-action=scale] button")
    #expect(try f.pool("work")["target"]?.intValue == 1)
    f.expectNoProblems(page)
  }

  @Test func schedulesAndMetricsPagesRender() throws {
    let f = try DashboardFixture.get()
    let page = try f.open("/ui/schedules", expect: "schedules")
    #expect(try page.count("tr[data-schedule=nightly]") == 1)
    #expect(try page.count("tr[data-schedule=nightly] ul.fires li") >= 1)
    try page.clickAndWait("tr[data-schedule=nightly] form[data-action=pause] button")
    try page.waitFor("document.querySelector('tr[data-schedule=nightly] form[data-action=resume]')")
    try f.shot(page, "schedules")
    try page.clickAndWait("tr[data-schedule=nightly] form[data-action=resume] button")
    try page.waitFor("document.querySelector('tr[data-schedule=nightly] form[data-action=pause]')")
    try f.open("/ui/metrics", expect: "metrics")
    #expect(try page.count("svg.chart") >= 3)
    try page.clickAndWait("a[data-range='24h']")
    #expect(
      try page.evaluate(
        "document.querySelector('a[data-range=\"24h\"]').getAttribute('aria-current')"
      ).stringValue == "page")
    try f.shot(page, "metrics")
    f.expectNoProblems(page)
  }
}
