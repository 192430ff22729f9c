public import DroverCore
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One tab of a `Browser`, driven the way a person would: navigate, click at an element's
/// centre with real mouse events, type into the focused field, wait for a condition, take a
/// screenshot. Everything the page reported by itself (console errors, uncaught exceptions,
/// browser log errors, dialogs) is recorded, so a test can assert there were none.
public final class BrowserPage: Sendable {
  public let browser: Browser
  /// The DevTools target and flat session of this tab.
  public let targetID: String
  public let session: String

  init(browser: Browser, targetID: String, session: String) {
    self.browser = browser
    self.targetID = targetID
    self.session = session
  }

  /// A DevTools command on this page's session.
  @discardableResult
  public func command(
    _ method: String, _ params: JSONValue = .object([]), timeout: Duration = .seconds(30)
  ) throws -> JSONValue {
    try browser.command(method, params, session: session, timeout: timeout)
  }

  // MARK: Navigation

  /// Loads `url` and waits for its load event. Throws when the navigation itself fails
  /// (connection refused, …); an HTTP error status still loads a page.
  public func navigate(_ url: String, timeout: Duration = .seconds(30)) throws {
    try waitingForLoad(timeout: timeout) {
      let r = try command("Page.navigate", ["url": .string(url)])
      if let error = r["errorText"]?.stringValue, !error.isEmpty {
        throw BrowserError("navigating to \(url) failed: \(error)")
      }
    }
  }

  /// Reloads the page and waits for its load event.
  public func reload(timeout: Duration = .seconds(30)) throws {
    try waitingForLoad(timeout: timeout) { try command("Page.reload") }
  }

  /// Runs `action` (which starts a navigation: a link, a form submit) and waits until the
  /// next document has loaded.
  public func waitingForLoad(timeout: Duration = .seconds(30), _ action: () throws -> Void)
    throws
  {
    let before = loads
    try action()
    try poll("a page load after \(before) loads", timeout: timeout) { loads > before }
  }

  /// Load events so far in this tab.
  public var loads: Int { browser.connection.withSession(session) { $0.loads } }

  /// The current URL.
  public func url() throws -> String { try evaluate("location.href").stringValue ?? "" }

  // MARK: Script

  /// Evaluates `expression` in the page (promises are awaited) and returns its value as
  /// JSON (`undefined` and non-serializable values become null). A thrown exception is
  /// thrown here, with its text.
  @discardableResult
  public func evaluate(_ expression: String, timeout: Duration = .seconds(30)) throws
    -> JSONValue
  {
    let r = try command(
      "Runtime.evaluate",
      [
        "expression": .string(expression), "returnByValue": true, "awaitPromise": true,
        "userGesture": true,
      ], timeout: timeout)
    if let details = r["exceptionDetails"] {
      let text =
        details["exception"]?["description"]?.stringValue ?? details["text"]?.stringValue
        ?? details.render()
      throw BrowserError("script threw: \(text)\n  script: \(expression.prefix(300))")
    }
    return r["result"]?["value"] ?? .null
  }

  /// Polls `condition` (a JavaScript expression) every 50 ms until it is truthy; throws after
  /// `timeout` with the condition, its last value or error, and the page's URL.
  public func waitFor(_ condition: String, timeout: Duration = .seconds(30)) throws {
    let deadline = ContinuousClock.now + timeout
    var last = "never evaluated"
    while true {
      do {
        let v = try evaluate("!!(\(condition))")
        if v.boolValue == true { return }
        last = "false"
      } catch {
        last = "\(error)"
      }
      if ContinuousClock.now >= deadline {
        throw BrowserError(
          "timed out after \(timeout) waiting in the browser for `\(condition)` (last: \(last)) "
            + "on \((try? url()) ?? "?")")
      }
      SupervisorHarness.pause(.milliseconds(50))
    }
  }

  /// The `textContent` of the first element matching `selector`, or nil when there is none.
  public func text(_ selector: String) throws -> String? {
    try evaluate("document.querySelector(\(Self.quote(selector)))?.textContent ?? null")
      .stringValue
  }

  /// How many elements match `selector`.
  public func count(_ selector: String) throws -> Int {
    Int(try evaluate("document.querySelectorAll(\(Self.quote(selector))).length").intValue ?? 0)
  }

  // MARK: Input

  /// Scrolls the first element matching `selector` into view and clicks its centre with real
  /// mouse events (so the page's own handlers, `confirm()` included, run as for a person).
  /// Throws when nothing matches or the element has no size (hidden).
  public func click(_ selector: String) throws {
    let box = try evaluate(
      """
      (() => {
        const el = document.querySelector(\(Self.quote(selector)));
        if (!el) return "missing";
        el.scrollIntoView({block: "center", inline: "center"});
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) return "hidden";
        return [r.left + r.width / 2, r.top + r.height / 2];
      })()
      """)
    guard let xy = box.arrayValue, xy.count == 2, let x = xy[0].doubleValue,
      let y = xy[1].doubleValue
    else {
      let why = box.stringValue ?? box.render()
      throw BrowserError("cannot click \(selector): \(why) on \((try? url()) ?? "?")")
    }
    for type in ["mouseMoved", "mousePressed", "mouseReleased"] {
      try command(
        "Input.dispatchMouseEvent",
        [
          "type": .string(type), "x": .double(x), "y": .double(y), "button": "left",
          "clickCount": .int(type == "mouseMoved" ? 0 : 1),
        ])
    }
  }

  /// Clicks `selector` and waits for the navigation it starts (a link, a submit button).
  public func clickAndWait(_ selector: String, timeout: Duration = .seconds(30)) throws {
    try waitingForLoad(timeout: timeout) { try click(selector) }
  }

  /// Focuses the first element matching `selector`, selects what it holds, and types `text`
  /// over it (`Input.insertText`: the page sees input events as from a keyboard).
  public func type(_ selector: String, _ text: String) throws {
    let ok = try evaluate(
      """
      (() => {
        const el = document.querySelector(\(Self.quote(selector)));
        if (!el) return false;
        el.focus();
        if (typeof el.select === "function") el.select();
        return document.activeElement === el;
      })()
      """)
    guard ok.boolValue == true else {
      throw BrowserError("cannot type into \(selector): no such focusable element")
    }
    try command("Input.insertText", ["text": .string(text)])
  }

  /// Sets a `<select>` (or any field) to `value` and fires `input` and `change`.
  public func select(_ selector: String, _ value: String) throws {
    let ok = try evaluate(
      """
      (() => {
        const el = document.querySelector(\(Self.quote(selector)));
        if (!el) return false;
        el.value = \(Self.quote(value));
        el.dispatchEvent(new Event("input", {bubbles: true}));
        el.dispatchEvent(new Event("change", {bubbles: true}));
        return el.value === \(Self.quote(value));
      })()
      """)
    guard ok.boolValue == true else {
      throw BrowserError("cannot set \(selector) to \(value)")
    }
  }

  /// Whether a `confirm()` is accepted (the default) or dismissed from now on.
  public func acceptDialogs(_ accept: Bool) {
    browser.connection.withSession(session) { $0.acceptDialogs = accept }
  }

  // MARK: What the page reported

  /// Console errors, uncaught exceptions and browser log errors so far.
  public var problems: [String] { browser.connection.withSession(session) { $0.problems } }

  /// Returns the problems so far and forgets them (after a step that expects some, say a
  /// refused request).
  public func takeProblems() -> [String] {
    browser.connection.withSession(session) { log in
      defer { log.problems.removeAll() }
      return log.problems
    }
  }

  /// Every console message so far, `TYPE: text`.
  public var console: [String] { browser.connection.withSession(session) { $0.console } }

  /// Every dialog that opened so far, `TYPE: message`.
  public var dialogs: [String] { browser.connection.withSession(session) { $0.dialogs } }

  // MARK: Cookies

  /// Sets a cookie for `url` as the browser would store it from a response.
  public func setCookie(name: String, value: String, url: String, httpOnly: Bool = false)
    throws
  {
    let r = try command(
      "Network.setCookie",
      [
        "name": .string(name), "value": .string(value), "url": .string(url),
        "httpOnly": .bool(httpOnly),
      ])
    guard r["success"]?.boolValue != false else {
      throw BrowserError("chromium refused cookie \(name) for \(url)")
    }
  }

  /// The cookies the browser holds for `url` (HttpOnly ones too), as DevTools objects with
  /// `name`, `value`, `httpOnly`, `sameSite`, `path`, ….
  public func cookies(for url: String) throws -> [JSONValue] {
    try command("Network.getCookies", ["urls": [.string(url)]])["cookies"]?.arrayValue ?? []
  }

  /// `document.cookie`: what the page's scripts can see.
  public func documentCookie() throws -> String {
    try evaluate("document.cookie").stringValue ?? ""
  }

  // MARK: Screenshots

  /// Writes a PNG of the whole page (1280 wide, as tall as the content up to `maxHeight`) to
  /// `path`, creating its folder.
  public func screenshot(to path: String, maxHeight: Int = 2400) throws {
    let metrics = try command("Page.getLayoutMetrics")
    let content = metrics["cssContentSize"] ?? metrics["contentSize"] ?? .null
    let height = min(
      max(Int(content["height"]?.doubleValue ?? 0), Browser.viewport.height), maxHeight)
    let shot = try command(
      "Page.captureScreenshot",
      [
        "format": "png", "captureBeyondViewport": true,
        "clip": [
          "x": 0, "y": 0, "width": .int(Int64(Browser.viewport.width)),
          "height": .int(Int64(height)), "scale": 1,
        ],
      ], timeout: .seconds(60))
    guard let base64 = shot["data"]?.stringValue, let png = Data(base64Encoded: base64) else {
      throw BrowserError("Page.captureScreenshot gave no image")
    }
    let folder = (path as NSString).deletingLastPathComponent
    if !folder.isEmpty {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }
    try png.write(to: URL(fileURLWithPath: path))
  }

  /// Closes this tab.
  public func close() {
    _ = try? browser.command("Target.closeTarget", ["targetId": .string(targetID)])
  }

  // MARK: Helpers

  /// `s` as a JavaScript string literal (JSON string syntax is valid JavaScript).
  public static func quote(_ s: String) -> String { JSONValue.string(s).render() }

  /// Polls a Swift condition; the page's own waits use this.
  private func poll(_ what: String, timeout: Duration, _ condition: () -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
      if let closed = browser.connection.closedReason {
        throw BrowserError("chromium went away waiting for \(what): \(closed)")
      }
      if ContinuousClock.now >= deadline {
        throw BrowserError("timed out after \(timeout) waiting for \(what)")
      }
      SupervisorHarness.pause(.milliseconds(5))
    }
  }
}
