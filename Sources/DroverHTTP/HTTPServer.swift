public import DroverCore
import DroverStore
public import DroverSupervisor
import DroverSystem
import Hummingbird
public import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The HTTP API, `/metrics` and health probes (CONTRACT.md, "HTTP API"), beside the
/// supervisor's loop: its own NIO event loop thread and Swift tasks, reaching the loop only
/// through its mailbox and hearing from it only through the event stream, so no request can
/// stall dispatch.
public final class HTTPServer: Sendable {
  /// The address actually bound (`127.0.0.1:41234` when the config says port 0).
  public let boundAddress: String
  private let task: Mutex<Task<Void, any Error>?>
  /// The server runs as a swift-service-lifecycle `Service` in this group: `stop` asks it to
  /// shut down gracefully (stop accepting, finish what is in flight) rather than cancelling it.
  private let services: ServiceGroup
  private let metrics: DroverMetrics

  /// Binds `config.http.listen` and starts serving; returns once bound (or throws why not).
  ///
  /// - Parameters:
  ///   - supervisor: the mailbox, event bus and loop probe of the supervisor to serve.
  ///   - thresholds: what `GET /health` judges by.
  public init(
    config: DroverConfig, supervisor: Supervisor, thresholds: HealthThresholds = .init(),
    logger: Logger
  ) throws {
    guard let http = config.http else { throw HTTPServerError("no [http] section") }
    guard let (host, port) = Self.split(http.listen) else {
      throw HTTPServerError("http.listen: not host:port: \(http.listen)")
    }
    let policy = AccessPolicy(
      token: try Self.token(http).map { Array($0.utf8) },
      readToken: http.readToken.map { Array($0.utf8) })
    let link = SupervisorLink(
      mailbox: supervisor.mailbox, events: supervisor.events, probe: supervisor.probe,
      storeConfig: config.store)
    metrics = DroverMetrics(events: supervisor.events, errorWindow: thresholds.errorWindow)
    let routes = APIRoutes(
      link: link, metrics: metrics, thresholds: thresholds, maxPayload: config.store.maxPayload,
      stuckAfterByType: WindowStatsParams.poolTimeouts(config))
    let router = Router(context: BasicRequestContext.self)
    let sessions = DashboardSessions()
    router.add(middleware: ErrorMiddleware())
    router.add(middleware: AccessMiddleware(policy: policy, sessions: sessions))
    routes.register(on: router)
    Dashboard(api: routes, policy: policy, sessions: sessions, config: config).register(on: router)
    let bound = Mutex<Result<String, any Error>?>(nil)
    let ready = DispatchLikeSemaphore()
    // One event loop thread is plenty for an API beside a job loop on a small machine; the
    // store reads run on NIO's blocking pool.
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var appLogger = logger
    appLogger.logLevel = .warning
    let app = Application(
      router: router,
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        let p = channel.localAddress?.port ?? port
        let shown = host.contains(":") ? "[\(host)]:\(p)" : "\(host):\(p)"
        bound.withLock { $0 = .success(shown) }
        ready.signal()
      },
      eventLoopGroupProvider: .shared(group), logger: appLogger)
    // No signal handling here: the loop reads SIGTERM/SIGINT from its signalfd.
    let serviceGroup = ServiceGroup(services: [app], logger: appLogger)
    services = serviceGroup
    let t = Task {
      do {
        try await serviceGroup.run()
      } catch {
        bound.withLock { if $0 == nil { $0 = .failure(error) } }
        ready.signal()
        throw error
      }
    }
    task = Mutex(t)
    guard ready.wait(seconds: 15) else {
      t.cancel()
      throw HTTPServerError("http.listen \(http.listen): the server did not start in 15 s")
    }
    switch bound.withLock({ $0 })! {
    case .success(let address): boundAddress = address
    case .failure(let e): throw HTTPServerError("http.listen \(http.listen): \(e)")
    }
  }

  /// Stops accepting and ends the server, gracefully, waiting at most `timeout` (a request
  /// still waiting on a loop that has exited would never finish); harmless twice.
  public func stop(timeout: Duration = .seconds(2)) {
    metrics.stop()
    guard
      let t = task.withLock({ t -> Task<Void, any Error>? in
        defer { t = nil }
        return t
      })
    else { return }
    let finished = DispatchLikeSemaphore()
    let group = services
    Task {
      await group.triggerGracefulShutdown()
      _ = await t.result
      finished.signal()
    }
    if !finished.wait(seconds: Int64(timeout.components.seconds)) { t.cancel() }
  }

  /// The full token: `token`, or the first line of `token_file`.
  static func token(_ http: HTTPConfig) throws -> String? {
    if let t = http.token { return t }
    guard let path = http.tokenFile else { return nil }
    guard let bytes = readSmallFile(path) else {
      throw HTTPServerError("http.token_file: cannot read \(path)")
    }
    let line = bytes.split(separator: "\n").first.map(String.init) ?? ""
    let token = String(line.filter { $0 != "\r" && $0 != " " && $0 != "\t" })
    guard !token.isEmpty else { throw HTTPServerError("http.token_file: \(path) is empty") }
    return token
  }

  static func split(_ listen: String) -> (String, Int)? {
    guard let colon = listen.lastIndex(of: ":"),
      let port = Int(listen[listen.index(after: colon)...])
    else { return nil }
    var host = String(listen[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return (host, port)
  }
}

/// Why the HTTP server could not start.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
  public var description: String
  init(_ d: String) { description = d }
}

/// A one-shot semaphore with a timeout, on the project's `Monitor`.
final class DispatchLikeSemaphore: Sendable {
  private let state = Mutex(false)
  private let monitor = Monitor()
  func signal() {
    monitor.locked {
      state.withLock { $0 = true }
      monitor.broadcast()
    }
  }
  func wait(seconds: Int64) -> Bool {
    let deadline = Monotonic.nanoseconds() + seconds * 1_000_000_000
    return monitor.locked {
      while !state.withLock({ $0 }) && Monotonic.nanoseconds() < deadline {
        monitor.wait(untilNS: deadline)
      }
      return state.withLock { $0 }
    }
  }
}
