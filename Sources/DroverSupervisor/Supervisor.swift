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
  /// How long this supervisor's lease on its running jobs lasts without a renewal (renewed
  /// every third of it). Another supervisor may rescue them only after it ran out.
  public var lease: Duration = .seconds(15)
  /// How often the lease is renewed (`[store] heartbeat`); nil: a third of `lease`.
  public var leaseRenewal: Duration?
  /// However the store changed, an idle pool looks for work at least this often (the fallback
  /// behind change notification: nothing depends on a nudge).
  public var recheckInterval: Duration = .seconds(1)
  /// How often retention pruning starts; it then runs a bounded batch per tick until done.
  public var pruneInterval: Duration = .seconds(60)
  /// The handler names workers can run (nil: not checked); a reload naming another is
  /// rejected.
  public var knownHandlers: Set<String>?
  /// A control client whose pending replies were not taken for this long is dropped.
  public var clientStallLimit: Duration = .seconds(60)
  /// The clocks: deadlines, timeouts and intervals read `clock.monotonic`, stored times
  /// `clock.wall`.
  public var clock: SupervisorClock = .system
  /// The injected jitter source for backoff and recycle thresholds: a draw in 0 ..< 1.  /// Called on the loop thread only. The default is a SplitMix64 stream seeded once from the
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
  var config: DroverConfig {
    didSet {
      poolLimits = config.pools.compactMap(\.limits)
      poolNameByType = Self.poolNames(byType: config)
      // A reload may have removed a limit that holds jobs: the next commit lets them go.
      sweepLimitsNext = true
    }
  }
  /// The next commit sweeps every key holding jobs (the first one, and after a reload).
  var sweepLimitsNext = true
  /// The config's pools with limits, for every commit (`StoreBatch.limits`).
  var poolLimits: [PoolLimits] = []
  /// When a key holding jobs may start one without a finish (the last commit's answer): the
  /// loop commits again then.
  var nextLimitAt: Timestamp?
  /// Every key holding jobs is looked at now and then while pools have limits (and at the
  /// first commit and after a reload): what frees slots outside a commit (a rescue, a config
  /// without the limit) is caught there.
  var limitSweep = Periodic(every: .seconds(30))
  let options: SupervisorOptions
  let clock: SupervisorClock
  let store: any JobStore
  /// This supervisor's owner id in the store: its claims are leased to it.
  let owner: OwnerID
  var logger: Logger
  let notifier = Notifier()
  /// Other threads reach the loop here (HTTP later; the store reader's answers now).
  public let mailbox: Mailbox
  /// Lifecycle events, published after they are durable.
  public let events = EventBus()
  /// Called on the loop thread after a reload applied a new config (the alert engine takes its
  /// new settings from it). It must only hand the config over, never block. Set before `run`.
  public var onReload: (@Sendable (DroverConfig) -> Void)?
  /// The loop's heartbeat and state, readable from any thread (HTTP health probes).
  public let probe = LoopProbe()
  let reader: StoreReader

  var state: SupervisorState = .starting {
    // Readiness probes see a change at once, not at the next tick.
    didSet { if state != oldValue { probe.set(state: state) } }
  }
  var pools: [PoolState] = [] {
    didSet { poolsByName = Self.index(pools) }
  }
  /// `pools` by name, the first of a name (a pool removed by a reload and still retiring comes
  /// before its replacement): `pool(named:)` runs for every finish and enqueue, and a host may
  /// run 1,000 pools.
  private var poolsByName: [String: PoolState] = [:]
  /// The config's pool for each job type (`DroverConfig.pool(forType:)`, looked up per enqueue).
  private(set) var poolNameByType: [String: String] = [:]
  var workersByFD: [Int32: WorkerHandle] = [:]
  /// Workers with frames waiting to be written (`noteOutput`).
  let flushList = FlushList()
  /// Pools a commit may claim for (`PoolState.maybeHasWork` set since their last short claim).
  let workList = WorkList()
  var sources: [Int32: EventSource] = [:]
  var connections: [Int32: ControlConnection] = [:]
  let epoll: Epoll
  let signals: SignalFD
  var listenerFD: Int32 = -1
  /// RLIMIT_NOFILE, read at start; new control clients are refused when an accepted
  /// descriptor comes within `descriptorReserve` of it (kept for spawning workers).
  var descriptorLimit = Int.max
  var descriptorReserve = 32
  /// While set, the listener is not watched (accept failed: EMFILE).
  var acceptResumeAt: MonotonicInstant?
  var refusedConnections = 0
  var refusalLog = Periodic(every: .seconds(5))
  /// Process groups of reaped workers: at exit, waited on until empty (their members' orphans
  /// come back to this subreaper and are killed).
  var deadGroups: [Int32] = []
  var strayCheck = Periodic(every: .seconds(1))
  var strayIdleCheck = Periodic(every: .seconds(10))
  /// When a worker last exited (strays are looked for often for a while after).
  var lastWorkerExit: MonotonicInstant?
  /// Heartbeat silence and resource samples: checked at this pace, not every tick.
  var workerCheck = Periodic(every: .seconds(1))

  // Group commit, filled during a turn and written at its end.
  var pendingFinishes: [FinishParams] = []
  /// What the events and logs of each pending finish need, aligned with `pendingFinishes`.
  var pendingFinishInfo: [FinishInfo] = []
  var pendingProgress: [(JobID, Int)] = []
  var pendingProgressTypes: [String] = []
  var pendingStarts: [(JobID, Timestamp)] = []
  var pendingEnqueues: [PendingRequest] = []
  /// Events that are not about stored state (workers, pools) and jobs claimed this turn:
  /// published with the turn's commit.
  var pendingEvents: [LifecycleEvent] = []
  /// Someone subscribes to events (read once per commit): routine events are built only then.
  var streaming = false
  /// Replies waiting for the store reader, by token.
  var pendingReads: [Int: (ControlReply) -> Void] = [:]
  var nextReadToken = 0
  /// The last `enqueueBatch` group number.
  var nextBatchGroup = 0
  var promoteDue = true
  /// The last commit released waiting jobs (their parents completed) into pools that may claim
  /// them: the loop turns again at once so the next commit claims them, without waiting for an
  /// event or the tick.
  var releasedWork = false
  /// The config's schedules: what fires when (`Supervisor+Schedules.swift`).
  var schedules: ScheduleRunner
  var checkCancels = true
  var nextDue: Timestamp?
  var lastTick: MonotonicInstant
  var scaling = Periodic(every: .milliseconds(500))
  var cancelCheck = Periodic(every: .seconds(1))
  var watchdog = Periodic(every: .seconds(1))
  var statusReport = Periodic(every: .seconds(2))
  var pruning: Periodic
  var recheck: Periodic
  var leaseRenewal: Periodic
  var rescueCheck: Periodic
  /// The last prune batch was full: go on at the next tick.
  var pruneBehind = false
  /// Rows per prune batch, adapted to keep a batch short.
  var pruneLimit = 1000
  var drainDeadline: MonotonicInstant?
  /// When the last group commit failed (nil after a success): retries then wait for the tick.
  var commitFailedAt: MonotonicInstant?
  /// Why the last group commit failed (nil after a success), for `status` and `GET /health`.
  var commitError: String?
  /// Set once the store was found deleted, replaced or corrupt: nothing is written any more.
  var storageLost: StoreError?
  /// Why the last lease renewal could not reach the store (nil once a renewal or a commit
  /// succeeds): the supervisor keeps running and retrying with the driver's backoff, and
  /// `status`, `GET /health` and `GET /readyz` report it.
  var storeUnreachable: String?
  /// Whether the log last said the store cannot be written (`noteStoreProblem`).
  var storeProblemLogged = false
  /// When this supervisor's lease was last renewed (or its session opened).
  var leaseRenewedAt: MonotonicInstant
  var exitRequested = false
  /// An in-place upgrade waiting for a quiet moment (Supervisor+Upgrade).
  var upgradePending: UpgradeRequest?
  /// What the previous program image of this process handed over (nil for a fresh start).
  var handover: UpgradeState?
  var exitCode: Int32 = 0
  var readySent = false
  /// The store's wake-up descriptor while it is in the epoll set.
  var watchedStore: StoreWakeSource?
  var completedTotal = 0
  var controlSocketGID: UInt32 = 0
  /// Loop timings for `status`: the worst turn since READY, the last commit, turns so far.
  var turnMax: Duration = .zero
  var lastCommit: Duration = .zero
  var turns = 0
  /// Until when (`Monotonic.nanoseconds`; 0: not) the loop spins before it sleeps, for the
  /// next request of a control client it replied to (a client usually sends it at once): one
  /// `Spin.budget` from the last reply written, across the turns that other events (a
  /// worker's frame) bring in between. Not after writes to workers: a drain's turns follow
  /// each other anyway, and a spin there would only take CPU that two cores' workers need
  /// (measured, no drain figure moved).
  var spinEnd: Int64 = 0
  /// Bounds what spins that find nothing cost (sparse or irregular traffic).
  var spinGovernor = SpinGovernor()
  /// Something this turn may have moved a pool off its target (any event but a worker's
  /// heartbeat or progress): `endOfTurn` converges the pools only then, so an idle supervisor's
  /// heartbeat turns cost the same however many pools it has.
  var reconcileDue = true
  /// One read buffer for every socket: the loop is single-threaded.
  var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)

  /// Prepares a supervisor: opens the store and its session (one supervisor per SQLite
  /// file), creates the event loop. Nothing is spawned and nothing rescued before `run()`.
  public init(config: DroverConfig, options: SupervisorOptions, logger: Logger) throws {
    self.config = config
    self.poolLimits = config.pools.compactMap(\.limits)
    self.poolNameByType = Self.poolNames(byType: config)
    self.options = options
    self.clock = options.clock
    self.schedules = try ScheduleRunner(config.schedules)
    self.logger = logger
    Malloc.tune()
    let handover = try Self.inheritedState(config: config)
    let store = try StoreFactory.open(config.store)
    if let handover {
      // The same process's previous image checked the file and holds its lock and session.
      self.owner = try Self.adoptSession(handover, store: store, options: options)
    } else {
      // A damaged file is refused before anything is served from it.
      try store.checkIntegrity()
      self.owner = try store.openSession(
        SessionParams(
          name: "\(Self.hostName()):\(getpid())", pid: getpid(), lease: options.lease,
          now: options.clock.wall()))
    }
    // Checkpoints (the commit path's only fsyncs under synchronous = NORMAL) off the loop.
    store.checkpointInBackground()
    self.store = store
    self.handover = handover
    do {
      self.epoll = try Epoll()
      self.signals = try SignalFD(signals: [SIGTERM, SIGINT, SIGHUP, SIGUSR2])
      self.mailbox = try Mailbox()
    } catch {
      try? store.closeSession(owner)
      throw error
    }
    self.reader = StoreReader(config: config.store, mailbox: mailbox)
    lastTick = options.clock.monotonic()
    leaseRenewedAt = lastTick
    pruning = Periodic(every: options.pruneInterval)
    recheck = Periodic(every: options.recheckInterval)
    workerCheck = Periodic(every: min(.seconds(1), options.heartbeatTimeout / 4))
    leaseRenewal = Periodic(every: options.leaseRenewal ?? options.lease / 3)
    rescueCheck = Periodic(every: options.lease)
    // The start-up rescue has just run: the next one is a lease away.
    rescueCheck.last = options.clock.monotonic()
    pools = config.pools.map { PoolState(config: $0, workList: workList) }
    // An initializer's assignment runs no `didSet`.
    poolsByName = Self.index(pools)
  }

  static func hostName() -> String {
    var buf = [UInt8](repeating: 0, count: 256)
    guard gethostname(&buf, 255) == 0 else { return "localhost" }
    return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
  }

  /// Runs until SIGTERM/SIGINT has drained everything; returns the process exit code.
  public func run() throws -> Int32 {
    try start()
    while !exitRequested {
      let timeoutMS = nextTimeoutMS()
      var ready = timeoutMS > 0 && spinEnd > 0 ? try spinWait() : []
      if ready.isEmpty { ready = try epoll.wait(timeout: .milliseconds(timeoutMS)) }
      let turnStart = clock.monotonic()
      for (fd, events) in ready {
        guard let source = sources[fd] else { continue }
        for event in self.events(from: source, events: events) { handle(event) }
      }
      if turnStart - lastTick >= options.tick {
        let gap = turnStart - lastTick
        lastTick = turnStart
        if gap > stallThreshold { loopStalled(for: gap, now: turnStart) }
        handle(.tick)
        probe.tick(state: state, storeProblem: noteStoreProblem())
      }
      endOfTurn()
      turns += 1
      if readySent { turnMax = max(turnMax, clock.monotonic() - turnStart) }
    }
    finish()
    return exitCode
  }

  /// The one switch: every event the supervisor reacts to.
  func handle(_ event: SupervisorEvent) {
    if case .workerReadable = event {} else { reconcileDue = true }
    switch event {
    case .signal(let sig) where sig == SIGTERM || sig == SIGINT: beginStop(signal: sig)
    case .signal(let sig) where sig == SIGHUP: _ = reload(trigger: "SIGHUP")
    case .signal(let sig) where sig == SIGUSR2: requestUpgrade(trigger: "SIGUSR2", reply: nil)
    case .signal: break
    case .workerReadable(let w): readFrames(w)
    case .workerExited(let w): reap(w)
    case .controlAccept: acceptControl()
    case .controlReadable(let c): readControl(c)
    case .controlWritable(let c): flush(c)
    case .mailbox: drainMailbox()
    case .tick: housekeeping(now: clock.monotonic())
    case .storeWake: storeWoke()
    }
  }

  /// Work done once per turn, after the turn's events: one group commit, then converge the
  /// pools on their targets, then send what the turn produced.
  func endOfTurn() {
    answerBacklogs()
    commit()
    if reconcileDue || state == .stopping {
      reconcileDue = false
      reconcile()
    }
    flushListed()
    for c in connections.values where !c.output.isEmpty { flush(c) }
    advanceStop()
    updateState()
  }

  func pool(named name: String) -> PoolState? { poolsByName[name] }

  /// The pool that runs jobs of `type` under the current config.
  func pool(forType type: String) -> PoolState? { poolNameByType[type].flatMap(pool(named:)) }

  private static func index(_ pools: [PoolState]) -> [String: PoolState] {
    var out: [String: PoolState] = [:]
    out.reserveCapacity(pools.count)
    for p in pools where out[p.name] == nil { out[p.name] = p }
    return out
  }

  private static func poolNames(byType config: DroverConfig) -> [String: String] {
    var out: [String: String] = [:]
    for p in config.pools { for t in p.types where out[t] == nil { out[t] = p.name } }
    return out
  }

  func log(_ level: Logger.Level, _ message: String, _ meta: Logger.Metadata = [:]) {
    logger.log(level: level, "\(message)", metadata: meta)
  }
}
