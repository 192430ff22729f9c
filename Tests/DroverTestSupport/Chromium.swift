public import DroverCore
import Foundation
import Synchronization

#if canImport(Glibc)
  import Glibc
#endif

/// A real headless Chromium driven over the Chrome DevTools Protocol, for tests of the
/// dashboard in a real browser: Debian's `chromium` package, no WebDriver, no network.
///
/// `launch()` starts `chromium --headless=new … --remote-debugging-pipe` in a process group
/// of its own with the DevTools socket on fds 3 and 4 and a throwaway profile; every call is
/// synchronous with a generous timeout. `close()` (or dropping the object) ends chromium and
/// SIGKILLs whatever is left of its group (zygotes, renderers, the GPU and network
/// processes), so a failing test leaks no process. Thread-safe; one test suite usually
/// shares one browser and opens a page per test.
public final class Browser: Sendable {
  /// The flags chromium runs with (after the executable, before the first URL).
  public static let flags = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
    "--no-first-run", "--disable-extensions", "--disable-background-networking",
    "--no-default-browser-check", "--window-size=1280,800", "--hide-scrollbars",
    "--mute-audio",
  ]

  /// The viewport every page gets (CSS pixels at scale 1): screenshots stay small.
  public static let viewport = (width: 1280, height: 800)

  /// chromium's pid, also its process group id.
  public let pid: Int32
  /// The whole command line, for reports.
  public let commandLine: String
  let connection: ChromiumConnection
  private let profile: TempDirectory
  private let output: TempFile
  private let status = Mutex<ExitStatus?>(nil)

  /// Finds chromium (`$CHROMIUM`, else `chromium` on PATH), starts it with `flags`, and waits
  /// until it answers `Browser.getVersion`. Throws a message saying how to install it when it
  /// is missing: browser tests must fail, not pass, on a machine without it.
  public static func launch(timeout: Duration = .seconds(60)) throws -> Browser {
    let executable = try findExecutable()
    let profile = try TempDirectory(prefix: "drover-chromium")
    let browser = try Browser(
      executable: executable,
      arguments: flags + ["--user-data-dir=\(profile.path)", "about:blank"],
      profile: profile)
    do {
      _ = try browser.command("Browser.getVersion", timeout: timeout)
    } catch {
      throw BrowserError("chromium did not start: \(error); its output:\n\(browser.outputTail())")
    }
    return browser
  }

  /// `$CHROMIUM` if set, else the first `chromium` on PATH (of `environment`, by default
  /// this process's).
  public static func findExecutable(environment: [String: String]? = nil) throws -> String {
    let env = environment ?? ProcessInfo.processInfo.environment
    if let explicit = env["CHROMIUM"], !explicit.isEmpty {
      guard access(explicit, X_OK) == 0 else {
        throw BrowserError("CHROMIUM=\(explicit) is not an executable file")
      }
      return explicit
    }
    let path = env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") where access("\(dir)/chromium", X_OK) == 0 {
      return "\(dir)/chromium"
    }
    throw BrowserError(
      "chromium is not installed (no `chromium` on PATH=\(path), CHROMIUM unset): the browser "
        + "tests need Debian's chromium package: `apt-get install chromium fonts-dejavu-core` "
        + "(scripts/install-deps.sh installs it)")
  }

  private init(executable: String, arguments: [String], profile: TempDirectory) throws {
    var pair: [Int32] = [-1, -1]
    guard
      socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair)
        == 0
    else { throw BrowserError("socketpair: \(String(cString: strerror(errno)))") }
    // Chromium's end moves above the fds it is dup'ed onto, so neither dup2 clobbers the
    // other's source and neither is a same-fd dup2 (which would keep close-on-exec).
    let theirs = fcntl(pair[1], F_DUPFD_CLOEXEC, 10)
    Glibc.close(pair[1])
    guard theirs >= 0 else {
      Glibc.close(pair[0])
      throw BrowserError("fcntl(F_DUPFD_CLOEXEC): \(String(cString: strerror(errno)))")
    }
    defer { Glibc.close(theirs) }
    let output: TempFile
    do { output = try TempFile() } catch {
      Glibc.close(pair[0])
      throw error
    }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, output.fd, 1)
    posix_spawn_file_actions_adddup2(&actions, output.fd, 2)
    posix_spawn_file_actions_adddup2(&actions, theirs, 3)
    posix_spawn_file_actions_adddup2(&actions, theirs, 4)

    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    ChildProcess.setChildAttributes(&attributes)

    let argv = [executable] + arguments
    let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    var pid: pid_t = 0
    let rc = ChildProcess.withCStrings(argv) { cArgv in
      ChildProcess.withCStrings(env) { cEnv in
        posix_spawn(&pid, executable, &actions, &attributes, cArgv, cEnv)
      }
    }
    guard rc == 0 else {
      Glibc.close(pair[0])
      throw BrowserError("cannot start \(executable): \(String(cString: strerror(rc)))")
    }
    self.pid = pid
    self.commandLine = argv.joined(separator: " ")
    self.profile = profile
    self.output = output
    self.connection = ChromiumConnection(fd: pair[0])
  }

  deinit { kill() }

  /// Sends a browser-level (or, with `session`, a page-level) DevTools command and returns its
  /// `result`; throws the protocol's error message, or when chromium is gone or silent.
  @discardableResult
  public func command(
    _ method: String, _ params: JSONValue = .object([]), session: String? = nil,
    timeout: Duration = .seconds(30)
  ) throws -> JSONValue {
    let id = try connection.send(method, params, session: session)
    let reply = try connection.reply(id, method: method, timeout: timeout)
    if let error = reply["error"] {
      throw BrowserError(
        "\(method) failed: \(error["message"]?.stringValue ?? error.render())"
          + (error["data"]?.stringValue.map { " (\($0))" } ?? ""))
    }
    return reply["result"] ?? .object([])
  }

  /// A new tab at about:blank with a 1280x800 viewport, attached in flat-session mode, its
  /// Page, Runtime and Log domains enabled (so loads, console errors and exceptions are
  /// recorded from the start). With `isolated`, the tab gets a browser context of its own
  /// (an incognito-like profile): no cookies shared with other tabs, so a second user can
  /// be logged in beside the first.
  public func newPage(isolated: Bool = false) throws -> BrowserPage {
    var params: [JSONField] = [JSONField("url", "about:blank")]
    if isolated {
      let context = try command("Target.createBrowserContext")
      guard let id = context["browserContextId"]?.stringValue else {
        throw BrowserError("Target.createBrowserContext gave no id: \(context.render())")
      }
      params.append(JSONField("browserContextId", .string(id)))
    }
    let target = try command("Target.createTarget", .object(params))
    guard let targetID = target["targetId"]?.stringValue else {
      throw BrowserError("Target.createTarget gave no targetId: \(target.render())")
    }
    let attached = try command(
      "Target.attachToTarget", ["targetId": .string(targetID), "flatten": true])
    guard let session = attached["sessionId"]?.stringValue else {
      throw BrowserError("Target.attachToTarget gave no sessionId: \(attached.render())")
    }
    let page = BrowserPage(browser: self, targetID: targetID, session: session)
    for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
      try command(domain, session: session)
    }
    try command(
      "Emulation.setDeviceMetricsOverride",
      [
        "width": .int(Int64(Self.viewport.width)), "height": .int(Int64(Self.viewport.height)),
        "deviceScaleFactor": 1, "mobile": false,
      ], session: session)
    return page
  }

  /// Asks chromium to quit (`Browser.close`), waits for it, then SIGKILLs what is left of its
  /// process group. Harmless when repeated.
  public func close() {
    if status.withLock({ $0 == nil }), connection.closedReason == nil {
      _ = try? command("Browser.close", timeout: .seconds(5))
      let deadline = ContinuousClock.now + .seconds(10)
      while reap(blocking: false) == nil && ContinuousClock.now < deadline {
        SupervisorHarness.pause(.milliseconds(10))
      }
    }
    kill()
  }

  /// SIGKILLs chromium's whole process group and reaps chromium. Its helpers (zygotes and
  /// what they forked) are in that group too and die with it, even after chromium itself is
  /// gone: a group id stays allocated while the group has members.
  private func kill() {
    if status.withLock({ $0 == nil }) {
      _ = Glibc.kill(-pid, SIGKILL)
      _ = reap(blocking: true)
    }
    for p in SupervisorHarness.processes(inGroups: [pid]) { _ = Glibc.kill(p, SIGKILL) }
  }

  /// Whether chromium or any process of its group is still alive.
  public var hasLiveProcesses: Bool {
    status.withLock { $0 == nil }
      || SupervisorHarness.processes(inGroups: [pid]).contains(where: SupervisorHarness.isAlive)
  }

  /// The last ~3000 characters chromium printed (stdout and stderr), for failure messages.
  public func outputTail() -> String {
    String(String(decoding: output.readAll(), as: UTF8.self).suffix(3000))
  }

  private func reap(blocking: Bool) -> ExitStatus? {
    ExitStatus.reap(pid, blocking: blocking, into: status)
  }
}
