public import DroverCore
import DroverStore
import DroverSystem
import DroverWire
public import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// Tunables of a supervisor that the config file does not carry (tests shorten them).
public struct SupervisorOptions: Sendable {
  /// The config file, re-read on reload.
  public var configPath: String?
  /// The `drover` executable started as `drover worker …` (default: /proc/self/exe).
  public var workerExecutable: String
  /// How often workers send heartbeats.
  public var heartbeatInterval: Duration = .seconds(1)
  /// No frame for this long from a ready worker: it is hung, killed and replaced.
  public var heartbeatTimeout: Duration = .seconds(10)
  /// A worker that has not said hello after this long is killed.
  public var bootTimeout: Duration = .seconds(10)
  /// After asking a job to stop (cancel, timeout), how long before its worker gets SIGTERM.
  public var stopGrace: Duration = .seconds(5)
  /// After SIGTERM, how long before SIGKILL.
  public var termGrace: Duration = .seconds(3)
  /// Housekeeping period: timeouts, heartbeats, scaling, watchdog.
  public var tick: Duration = .milliseconds(100)
  /// The injected jitter source for backoff and recycle thresholds: a draw in 0 ..< 1.
  /// Called on the loop thread only. The default is a SplitMix64 stream seeded once from the
  /// system generator: a getrandom syscall per finished job showed up in profiles.
  public var jitter: @Sendable () -> Double = JitterSource.make()

  public init(configPath: String?, workerExecutable: String) {
    self.configPath = configPath
    self.workerExecutable = workerExecutable
  }
}

/// A fast, seeded random stream for backoff jitter (not for secrets).
public enum JitterSource {
  /// A closure drawing uniformly from 0 ..< 1.
  public static func make(seed: UInt64 = UInt64.random(in: .min ... .max)) -> @Sendable () -> Double
  {
    let state = JitterState(seed: seed)
    return { state.next() }
  }
}

/// SplitMix64. `@unchecked Sendable`: the supervisor calls it from its single loop thread only.
final class JitterState: @unchecked Sendable {
  var x: UInt64
  init(seed: UInt64) { x = seed }
  func next() -> Double {
    x &+= 0x9E37_79B9_7F4A_7C15
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z >> 31
    return Double(z >> 11) / Double(1 << 53)
  }
}

/// The supervisor: owns the store, the worker pools and the control socket, and runs one
/// single-threaded event loop (epoll) over signals, worker sockets, worker pidfds and control
/// clients. Each loop turn ends with one group commit to the store.
///
/// Why not swift-service-lifecycle and async streams: the hot path is "frame in, one commit,
/// frame out" thousands of times a second; a synchronous epoll loop keeps it to a few syscalls
/// and no task hops, and the loop itself is the one owner of every child process.
public final class Supervisor {
  var config: DroverConfig
  let options: SupervisorOptions
  let store: SQLiteStore
  var logger: Logger
  let notifier = Notifier()

  var state: SupervisorState = .starting
  var pools: [PoolState] = []
  var workersByFD: [Int32: WorkerHandle] = [:]
  var sources: [Int32: EventSource] = [:]
  var connections: [Int32: ControlConnection] = [:]
  let epoll: Epoll
  let signals: SignalFD
  var listenerFD: Int32 = -1
  /// This supervisor's session on the store (which holds the store's lock file).
  let owner: OwnerID

  // Group commit, filled during a turn and written at its end.
  var pendingFinishes: [FinishParams] = []
  var pendingProgress: [(JobID, Int)] = []
  var pendingStarts: [(JobID, Timestamp)] = []
  var pendingEnqueues: [(conn: ControlConnection, slot: Int, request: EnqueueRequest)] = []
  var promoteDue = true
  var checkCancels = true
  var nextDue: Timestamp?
  var lastTickNS: Int64 = 0
  var lastScaleNS: Int64 = 0
  var lastCancelCheckNS: Int64 = 0
  var lastWatchdogNS: Int64 = 0
  var lastStatusNS: Int64 = 0
  var lastPruneNS: Int64 = 0
  var drainDeadlineNS: Int64?
  /// When the last group commit failed (nil after a success): retries then wait for the tick.
  var commitFailedNS: Int64?
  var exitRequested = false
  var readySent = false
  var completedTotal = 0
  var controlSocketGID: UInt32 = 0
  /// One read buffer for every socket: the loop is single-threaded.
  var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

  /// Prepares a supervisor: takes the store's lock, opens the store and rescues a dead
  /// owner's running jobs, creates the event loop. Nothing is spawned before `run()`.
  public init(config: DroverConfig, options: SupervisorOptions, logger: Logger) throws {
    self.config = config
    self.options = options
    self.logger = logger
    Malloc.tune()
    self.store = try SQLiteStore(path: config.store.path, synchronous: config.store.synchronous)
    self.owner = try store.openSession(
      SessionParams(name: "supervisor \(getpid())", pid: getpid(), lease: .seconds(30)))
    self.epoll = try Epoll()
    self.signals = try SignalFD(signals: [SIGTERM, SIGINT, SIGHUP])
    pools = config.pools.map { PoolState(config: $0) }
  }

  /// Runs until SIGTERM/SIGINT has drained everything; returns the process exit code.
  public func run() throws -> Int32 {
    try start()
    while !exitRequested {
      let timeoutMS = nextTimeoutMS()
      for (fd, events) in try epoll.wait(timeout: .milliseconds(timeoutMS)) {
        guard let source = sources[fd] else { continue }
        for event in self.events(from: source, events: events) { handle(event) }
      }
      let now = Monotonic.nanoseconds()
      if now - lastTickNS >= options.tick.microseconds * 1000 {
        lastTickNS = now
        handle(.tick)
      }
      endOfTurn()
    }
    finish()
    return 0
  }

  /// The one switch: every event the supervisor reacts to.
  func handle(_ event: SupervisorEvent) {
    switch event {
    case .signal(let sig) where sig == SIGTERM || sig == SIGINT: beginStop(signal: sig)
    case .signal(let sig) where sig == SIGHUP: _ = reload(trigger: "SIGHUP")
    case .signal: break
    case .workerReadable(let w): readFrames(w)
    case .workerExited(let w): reap(w)
    case .controlAccept: acceptControl()
    case .controlReadable(let c): readControl(c)
    case .controlWritable(let c): flush(c)
    case .tick: housekeeping()
    }
  }

  /// Work done once per turn, after the turn's events: one group commit, then converge the
  /// pools on their targets, then send what the turn produced.
  func endOfTurn() {
    commit()
    reconcile()
    for w in workersByFD.values where !w.outBuffer.isEmpty { flush(w) }
    for c in connections.values where !c.output.isEmpty { flush(c) }
    advanceStop()
    updateState()
  }

  func pool(named name: String) -> PoolState? { pools.first { $0.name == name } }

  func log(_ level: Logger.Level, _ message: String, _ meta: Logger.Metadata = [:]) {
    logger.log(level: level, "\(message)", metadata: meta)
  }
}
