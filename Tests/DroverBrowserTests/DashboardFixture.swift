import DroverCore
import DroverSystem
import DroverTestSupport
import Foundation
import Testing

/// One real `drover serve` (HTTP on 127.0.0.1 with an admin and a read token) and one real
/// headless Chromium, shared by every test of the dashboard suite and stopped after it.
///
/// `@unchecked Sendable`: the harness and the HTTP client are not thread-safe, but the suite
/// is `.serialized`, so exactly one test touches the fixture at a time; it is only published
/// as a task-local value for the duration of the suite.
final class DashboardFixture: @unchecked Sendable {
  static let token = "s3cret-admin"
  static let readToken = "reader-token"

  static let pools = """
    [pools.work]
    types = ["noop"]
    handler = "noop"
    min = 1
    max = 3

    [pools.bad]
    types = ["bad"]
    handler = "fail"
    min = 1
    max = 1
    max_attempts = 1

    [pools.sleepy]
    types = ["sleep"]
    handler = "sleep"
    min = 1
    max = 1

    """

  @TaskLocal static var current: DashboardFixture?

  let harness: SupervisorHarness
  let browser: Browser
  /// The API, with the admin token on every request.
  let api: LoopbackHTTPClient
  /// `http://127.0.0.1:PORT`.
  let base: String
  /// Where screenshots go: `$DROVER_SCREENSHOTS`, else `screenshots/` beside the test bundle.
  let screenshots: String
  /// The default browser context, logged in as admin through the login form.
  let admin: BrowserPage

  /// The fixture of the running suite.
  static func get() throws -> DashboardFixture {
    try #require(current, "the dashboard suite's fixture is not set up (run the whole suite)")
  }

  init() throws {
    let h = try SupervisorHarness(pools: Self.pools)
    try h.write("token.txt", Self.token + "\n")
    let http = SupervisorHarness.httpTable(
      #"token_file = "token.txt""#, #"read_token = "\#(Self.readToken)""#)
    try h.writeConfig(
      SupervisorHarness.configText(pools: Self.pools).replacingOccurrences(
        of: "[control]", with: "\(http)\n[control]")
        + "\n[schedules.nightly]\ncron = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\n"
        + "type = \"noop\"\n")
    try h.start()
    harness = h
    let port = try h.httpPort()
    base = "http://127.0.0.1:\(port)"
    api = LoopbackHTTPClient(port: port)
    screenshots = Self.screenshotFolder()
    // Launch after the supervisor: a missing chromium fails every test with its message.
    browser = try Browser.launch()
    admin = try browser.newPage()
    try seed()
    try Self.logIn(admin, base: base, token: Self.token)
  }

  /// Real data for every page: completed, dead (with an error), scheduled and running jobs.
  private func seed() throws {
    let batch = (1...60).map { #"{"type":"noop","payload":{"n":\#($0)}}"# }
    try created(api.post("/jobs", "[" + batch.joined(separator: ",") + "]", token: Self.token))
    for i in 1...3 {
      try created(
        api.post(
          "/jobs", #"{"type":"bad","payload":{"message":"upstream said 502 (try \#(i))"}}"#,
          token: Self.token))
    }
    try harness.waitUntil("the seed jobs finish", timeout: .seconds(60)) {
      let s = try stats()
      return s["completed"] == 60 && s["dead"] == 3
    }
  }

  /// Throws unless `r` is a 201; returns the created job (or batch) as JSON.
  @discardableResult
  func created(_ r: LoopbackHTTPClient.Reply) throws -> JSONValue {
    guard r.status == 201 else {
      throw BrowserTestError("POST /jobs answered \(r.status): \(r.text)")
    }
    return try r.json()
  }

  /// Enqueues one job over the API; returns its id.
  func enqueue(_ body: String) throws -> Int64 {
    let job = try created(api.post("/jobs", body, token: Self.token))
    guard let id = job["id"]?.intValue else { throw BrowserTestError("no id in \(job.render())") }
    return id
  }

  /// `GET /jobs/ID` with the admin token.
  func job(_ id: Int64) throws -> JSONValue {
    let r = try api.get("/jobs/\(id)", token: Self.token)
    guard r.status == 200 else { throw BrowserTestError("GET /jobs/\(id): \(r.status) \(r.text)") }
    return try r.json()
  }

  func jobState(_ id: Int64) throws -> String? { try job(id)["state"]?.stringValue }

  /// `GET /stats` as state → count.
  func stats() throws -> [String: Int64] {
    var counts: [String: Int64] = [:]
    for f in try api.get("/stats", token: Self.token).json().objectValue ?? [] {
      counts[f.key] = f.value.intValue
    }
    return counts
  }

  /// A pool's object in `GET /pools`.
  func pool(_ name: String) throws -> JSONValue {
    let all = try api.get("/pools", token: Self.token).json()
    let list = all["pools"]?.arrayValue ?? all.arrayValue ?? []
    guard let p = list.first(where: { $0["name"]?.stringValue == name }) else {
      throw BrowserTestError("GET /pools has no pool \(name): \(all.render())")
    }
    return p
  }

  /// Logs `page` in through the login form, the way a person does.
  static func logIn(_ page: BrowserPage, base: String, token: String) throws {
    try page.navigate(base + "/ui/login")
    try page.waitFor("document.querySelector('form#login input[name=token]')")
    try page.type("form#login input[name=token]", token)
    try page.clickAndWait("form#login button")
    try page.waitFor("document.querySelector('main#page-overview')")
  }

  /// Opens `path` in the admin tab and waits for `main#page-NAME`.
  @discardableResult
  func open(_ path: String, expect name: String, page: BrowserPage? = nil) throws -> BrowserPage {
    let p = page ?? admin
    try p.navigate(base + path)
    try p.waitFor("document.querySelector('main#page-\(name)')")
    return p
  }

  /// Writes a screenshot of `page` as `NAME.png` in the screenshot folder: the first
  /// 1280x800 of it (the README shows these; small files).
  func shot(_ page: BrowserPage, _ name: String) throws {
    try page.screenshot(to: screenshots + "/\(name).png", maxHeight: Browser.viewport.height)
  }

  /// Every problem the page reported (console errors, exceptions), which must be none.
  func expectNoProblems(
    _ page: BrowserPage, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let problems = page.takeProblems()
    #expect(problems.isEmpty, "the page reported: \(problems)", sourceLocation: sourceLocation)
  }

  func close() {
    browser.close()
    _ = try? harness.stop()
    harness.cleanup()
  }

  private static func screenshotFolder() -> String {
    if let dir = ProcessInfo.processInfo.environment["DROVER_SCREENSHOTS"], !dir.isEmpty {
      return dir
    }
    // The test bundle lives in the build folder (`.build/debug/…xctest`).
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return NSTemporaryDirectory() + "drover-screenshots" }
    let me = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return (me as NSString).deletingLastPathComponent + "/screenshots"
  }
}

/// Sets up the suite's `DashboardFixture` once, publishes it to the suite's tests, and stops
/// the supervisor and chromium afterwards, whatever happened.
struct DashboardFixtureTrait: SuiteTrait, TestScoping {
  var isRecursive: Bool { false }

  func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    let fixture = try DashboardFixture()
    defer { fixture.close() }
    try await DashboardFixture.$current.withValue(fixture) { try await function() }
  }
}

extension Trait where Self == DashboardFixtureTrait {
  /// One supervisor and one browser for the whole suite.
  static var dashboardFixture: Self { Self() }
}
