import DroverCore
import DroverTestSupport
import Foundation
import Testing

/// The DevTools harness itself, against a tiny page on a throwaway loopback server: every
/// call the dashboard tests rely on does what it says, and closing leaves no process.
@Suite("browser harness", .serialized)
struct BrowserHarnessTests {
  static let page = """
    <!doctype html><html><head><title>harness</title></head><body>
    <h1 id="head">Hello</h1>
    <input id="who"> <button id="go" onclick="out.textContent = who.value">go</button>
    <p id="out"></p>
    <button id="boom" onclick="setTimeout(() => { throw new Error('kaboom') })">boom</button>
    <button id="err" onclick="console.error('bad thing', 42)">err</button>
    <button id="alert" onclick="alert('hi there')">alert</button>
    <button id="ask" onclick="out.textContent = confirm('sure?') ? 'yes' : 'no'">ask</button>
    <form action="/done" method="get"><input name="q" value="x y"><button id="submit">send</button></form>
    <div style="height: 1500px"></div><p id="bottom">bottom</p>
    <script>window.loadedAt = Date.now();</script>
    </body></html>
    """

  @Test func drivesARealPageAndLeavesNoProcess() throws {
    let site = try StaticSite([
      "/": .init(
        headers: ["Set-Cookie: session=abc123; HttpOnly; SameSite=Strict; Path=/"],
        body: Self.page),
      "/done": .init(body: "<!doctype html><title>done</title><p id=done>done</p>"),
      // What the dashboard tests must never see: stored text rendered as markup.
      "/raw": .init(
        body: #"<!doctype html><p><img src="data:," onerror="window.__xss=2">"#
          + #"<script>window.__xss=1;alert('injected')</script></p>"#),
    ])
    let browser = try Browser.launch()
    let page = try browser.newPage()
    try page.navigate(site.base + "/")
    #expect(try page.evaluate("document.title").stringValue == "harness")
    #expect(try page.evaluate("typeof window.loadedAt").stringValue == "number")
    #expect(try page.text("#head") == "Hello")
    #expect(try page.count("button") == 6)
    #expect(
      try page.evaluate("({a: [1, 'b', null], c: true})").render()
        == #"{"a":[1,"b",null],"c":true}"#)
    #expect(throws: BrowserError.self) { try page.evaluate("nope.nope") }

    // Typing and clicking with real input events.
    try page.type("#who", "typed <text>")
    try page.click("#go")
    try page.waitFor("document.querySelector('#out').textContent === 'typed <text>'")
    #expect(throws: BrowserError.self) { try page.click("#no-such-thing") }

    // What the page reports by itself.
    #expect(page.problems == [], "\(page.problems)")
    try page.click("#err")
    try page.click("#boom")
    let problems = try waitForProblems(page, 2)
    #expect(problems.contains { $0.contains("console.error: bad thing 42") }, "\(problems)")
    #expect(problems.contains { $0.contains("kaboom") }, "\(problems)")
    #expect(page.problems == [])

    // Dialogs are answered (else the page would hang), and recorded.
    try page.click("#alert")
    try page.waitFor("true")
    #expect(page.dialogs == ["alert: hi there"])
    try page.click("#ask")
    try page.waitFor("out.textContent === 'yes'")
    page.acceptDialogs(false)
    try page.click("#ask")
    try page.waitFor("out.textContent === 'no'")

    // Cookies: the HttpOnly one is held but invisible to scripts; a set one is visible.
    let held = try page.cookies(for: site.base + "/")
    let session = try #require(held.first { $0["name"]?.stringValue == "session" })
    #expect(session["httpOnly"]?.boolValue == true)
    #expect(session["sameSite"]?.stringValue == "Strict")
    #expect(try page.documentCookie().contains("session") == false)
    try page.setCookie(name: "visible", value: "1", url: site.base + "/")
    #expect(try page.documentCookie().contains("visible=1"))

    // A whole-page PNG, 1280 wide and as tall as the content.
    let dir = try TempDirectory(prefix: "drover-shot")
    try page.screenshot(to: dir.file("sub/page.png"))
    let png = try Data(contentsOf: URL(fileURLWithPath: dir.file("sub/page.png")))
    #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    let (w, h) = pngSize(png)
    #expect(w == 1280 && h > 1500, "\(w)x\(h)")

    // A form submit navigates; the next document is loaded when clickAndWait returns.
    try page.clickAndWait("#submit")
    let url = try page.url()
    #expect(url.hasSuffix("/done?q=x+y"), "\(url)")
    let html = try page.evaluate("document.documentElement.outerHTML")
    #expect(try page.text("#done") == "done", "\(html)")
    #expect(site.requests.contains("GET /done?q=x+y"), "\(site.requests)")

    // An injection that does run is seen (so the dashboard's XSS checks can fail).
    try page.navigate(site.base + "/raw")
    #expect(try page.evaluate("typeof window.__xss").stringValue == "number")
    #expect(page.dialogs.last == "alert: injected")

    let pid = browser.pid
    #expect(!SupervisorHarness.children(of: pid).isEmpty)
    browser.close()
    #expect(!browser.hasLiveProcesses)
    #expect(throws: BrowserError.self) { try page.evaluate("1") }
  }

  @Test func aMissingChromiumIsAFailureThatSaysHowToInstallIt() throws {
    let error = #expect(throws: BrowserError.self) {
      try Browser.findExecutable(environment: ["PATH": "/nonexistent"])
    }
    #expect(error?.description.contains("apt-get install chromium") == true)
    #expect(throws: BrowserError.self) {
      try Browser.findExecutable(environment: ["CHROMIUM": "/nonexistent/chromium"])
    }
  }

  private func waitForProblems(_ page: BrowserPage, _ n: Int) throws -> [String] {
    let deadline = ContinuousClock.now + .seconds(30)
    while page.problems.count < n && ContinuousClock.now < deadline {
      SupervisorHarness.pause(.milliseconds(20))
    }
    return page.takeProblems()
  }

  /// Width and height from a PNG's IHDR chunk.
  private func pngSize(_ png: Data) -> (Int, Int) {
    guard png.count > 24 else { return (0, 0) }
    let b = [UInt8](png[16..<24])
    let w = Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
    let h = Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
    return (w, h)
  }
}
