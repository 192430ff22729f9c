import DroverCore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// How a worker process runs, from `drover worker`'s arguments.
public struct WorkerOptions: Sendable {
  /// The socket to the supervisor (fd 3 by convention).
  public var fd: Int32
  public var pool: String
  /// The handler's name (`noop`, `exec`, a registered one…).
  public var handler: String
  /// For `exec`: the command.
  public var command: [String]
  /// Jobs at once.
  public var concurrency: Int
  /// How often to send a heartbeat.
  public var heartbeat: Duration
  /// How often while no job is in hand (longer than `heartbeat`: a supervisor with many idle
  /// pools wakes for every heartbeat); nil for `heartbeat`.
  public var idleHeartbeat: Duration?

  public init(
    fd: Int32 = 3, pool: String, handler: String, command: [String] = [], concurrency: Int = 1,
    heartbeat: Duration = .seconds(1), idleHeartbeat: Duration? = nil
  ) {
    self.idleHeartbeat = idleHeartbeat
    self.fd = fd
    self.pool = pool
    self.handler = handler
    self.command = command
    self.concurrency = concurrency
    self.heartbeat = heartbeat
  }
}

/// The child side of a pool: receives jobs on its socket, runs them on `concurrency` threads,
/// streams progress and heartbeats, reports outcomes. It never touches the store.
public enum WorkerRuntime {
  /// Runs the worker until shutdown or until the supervisor goes away, then exits the process.
  public static func run(_ options: WorkerOptions, registry: HandlerRegistry) -> Never {
    // Children of this worker (exec) must not inherit the supervisor socket.
    _ = fcntl(options.fd, F_SETFD, FD_CLOEXEC)
    // An exec command may exit without reading its stdin: the handler's next write must fail
    // with EPIPE, not kill the worker with SIGPIPE. (Its commands get SIGPIPE back at its
    // default: ProcessSpawner resets every signal in the child.)
    Signals.ignoreBrokenPipe()
    // Orphans of our commands (setsid daemons) are re-parented to us, to be killed when their
    // job ends: ExecChildren.
    try? Subreaper.enable()
    var workerLogger = Logger(label: "drover.worker")
    workerLogger[metadataKey: "pool"] = "\(options.pool)"
    let logger = workerLogger
    let handler: Executor
    if options.handler == "exec" {
      guard !options.command.isEmpty else {
        bootFailure("pool \(options.pool): handler exec needs a command")
      }
      let command = options.command
      handler = Executor(parsesPayload: false) { ctx in
        let (outcome, used) = ExecHandler.run(command: command, context: ctx)
        return (outcome, AttemptMeter.usage(used))
      }
    } else if let body = registry.handlers[options.handler] {
      handler = Executor(parsesPayload: true, inProcess: true) { ctx in
        (AsyncBridge.run(body, ctx), nil)
      }
    } else {
      bootFailure(
        "pool \(options.pool): no handler named \"\(options.handler)\" (registered: "
          + registry.names.joined(separator: ", ") + ", exec)")
    }
    guard options.concurrency >= 1 else { bootFailure("concurrency must be ≥ 1") }

    let out = FrameWriter(fd: options.fd)
    let state = WorkerState()
    out.send(.hello(version: workerProtocolVersion, pid: getpid()))

    let setups = registry.setups
    let setupContext = WorkerSetupContext(
      pool: options.pool, handler: options.handler, logger: logger)
    startThread {
      // Setup runs after hello (the supervisor's boot timeout is short and a warm-up may not
      // be) and before any job: jobs assigned meanwhile wait in `state`, as prefetched ones do.
      if !setups.isEmpty { runSetups(setups, setupContext) }
      for _ in 0..<options.concurrency {
        startThread { executorLoop(state: state, handler: handler, logger: logger, out: out) }
      }
    }
    let interval = options.heartbeat
    let idleInterval = max(interval, options.idleHeartbeat ?? interval)
    startThread {
      // Beats fall on multiples of the interval of the monotonic clock, which every worker of
      // the host shares: their beats arrive together, and an idle supervisor with many workers
      // wakes once for a crowd of them instead of once for each. An idle worker beats once per
      // multiple of `idleInterval` (at most `idleInterval + interval` apart).
      let step = max(interval.microseconds * 1000, 1_000_000)
      let idleStep = max(idleInterval.microseconds * 1000, step)
      var lastWindow: Int64 = -1
      while true {
        let next = (Monotonic.nanoseconds() / step + 1) * step
        var at = timespec(tv_sec: Int(next / 1_000_000_000), tv_nsec: Int(next % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nil) == EINTR {}
        let window = next / idleStep
        if state.isIdle && window == lastWindow { continue }
        out.send(.heartbeat)
        lastWindow = window
      }
    }
    readLoop(fd: options.fd, state: state, out: out)
  }

  static func bootFailure(_ message: String) -> Never {
    let line = "drover worker: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(WorkerExit.cannotBoot)
  }

  /// Reads frames on the calling thread until shutdown completes or the socket closes.
  static func readLoop(fd: Int32, state: WorkerState, out: FrameWriter) -> Never {
    var decoder = FrameDecoder()
    var buf = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      // EOF or error: the supervisor is gone; nobody can receive our outcomes, and nothing we
      // started may go on running beside the retry a new supervisor will make.
      if n <= 0 {
        ExecChildren.shared.sweepAll()
        OwnProcessGroup.killAll()
        exit(WorkerExit.orphaned)
      }
      buf.withUnsafeBytes { decoder.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
      do {
        while let m = try decoder.nextSupervisorMessage() {
          switch m {
          case .assign(let a): state.enqueue(a)
          case .cancel(let id): state.cancel(id)
          case .release: state.release(out: out)
          case .shutdown:
            state.release(out: out)
            state.beginShutdown()
          }
        }
      } catch {
        let line = "drover worker: protocol error from supervisor: \(error)\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        exit(WorkerExit.protocolError)
      }
    }
  }

  /// Runs every setup hook in order; the first that throws stops the worker.
  static func runSetups(_ setups: [WorkerSetup], _ context: WorkerSetupContext) {
    let failure: String? = AsyncBridge.wait {
      do {
        for setup in setups { try await setup(context) }
        return nil
      } catch {
        return String(describing: error)
      }
    }
    guard let failure else { return }
    let line = "drover worker: pool \(context.pool): worker setup failed: \(failure)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    ExecChildren.shared.sweepAll()
    exit(1)
  }

  /// A worker's handler, and whether it wants the payload parsed first (every handler but
  /// `exec`, which hands the text to its command).
  struct Executor: Sendable {
    var parsesPayload: Bool
    /// Runs in this process: what an attempt used is measured here (``AttemptMeter``), not
    /// reported by the handler.
    var inProcess = false
    /// The outcome, and what the attempt used when the handler measured it (`exec`).
    var run: @Sendable (JobContext) -> (JobOutcome, JobUsage?)
  }

  static func executorLoop(
    state: WorkerState, handler: Executor, logger: Logger, out: FrameWriter
  ) {
    while let a = state.next() {
      var parsed: JSONValue?
      var parseError: String?
      if handler.parsesPayload {
        do { parsed = try JSONValue.parse(a.payload) } catch {
          parseError = "the payload is not a JSON object: \(error)"
        }
      }
      let ctx = JobContext(
        id: a.id, type: a.type, attempt: a.attempt, maxAttempts: a.maxAttempts,
        snoozes: a.snoozes, payload: a.payload, parsed: parsed, logger: logger,
        traceparent: a.traceparent.isEmpty ? nil : a.traceparent,
        reportProgress: { id, pct in out.send(.progress(id, pct)) })
      let alone = state.started(ctx)
      // The handler's first line, as near as the runtime can read it: the job's `started_at`.
      let started = Timestamp.now()
      let outcome: JobOutcome
      var usage: JobUsage?
      if ctx.isCancelled {
        outcome = .cancelled
      } else if let parseError {
        // Running the handler on a stand-in `{}` would hide the problem; the bytes will not
        // parse on a retry either.
        outcome = .permanent(parseError)
      } else if handler.inProcess {
        let meter = AttemptMeter(alone: alone)
        outcome = handler.run(ctx).0
        usage = meter.finish()
      } else {
        (outcome, usage) = handler.run(ctx)
      }
      // The outcome is on the socket before the job stops counting as in flight: a shutting-down
      // worker exits as soon as nothing is in flight, and must not take an outcome with it.
      if case .completed = outcome, let result = ctx.result { out.send(.result(a.id, result)) }
      out.send(.outcome(a.id, outcome, started: started, usage: usage))
      state.finished(a.id)
      if state.shutdownComplete() {
        ExecChildren.shared.sweepAll()
        exit(WorkerExit.normal)
      }
    }
  }
}

/// Jobs waiting and running in this worker, shared by the reader and executor threads.
final class WorkerState: @unchecked Sendable {
  // @unchecked: every field is read and written only inside monitor.locked.
  private let monitor = Monitor()
  private var pending: [Assignment] = []
  private var head = 0
  private var running: [JobID: JobContext] = [:]
  /// Assignments taken by an executor and not yet finished (a superset of `running`: an
  /// assignment counts from the moment it is taken, before its context exists).
  private var inFlight = 0
  private var cancelledEarly: Set<JobID> = []
  private var shuttingDown = false

  /// No job assigned, running or waiting.
  var isIdle: Bool { monitor.locked { inFlight == 0 && head == pending.count } }

  func enqueue(_ a: Assignment) {
    monitor.locked {
      pending.append(a)
      monitor.broadcast()
    }
  }

  /// The next assignment in arrival order; blocks while there is none. Nil never comes back
  /// in practice: shutdown exits the process from the last finishing executor.
  func next() -> Assignment? {
    monitor.locked {
      while head == pending.count {
        if shuttingDown && inFlight == 0 { exit(WorkerExit.normal) }
        monitor.wait()
      }
      let a = pending[head]
      head += 1
      inFlight += 1
      if head > 1024, head * 2 > pending.count {
        pending.removeFirst(head)
        head = 0
      }
      return a
    }
  }

  /// Records a job as running; returns true when no other job runs now.
  @discardableResult
  func started(_ ctx: JobContext) -> Bool {
    monitor.locked {
      running[ctx.id] = ctx
      if cancelledEarly.remove(ctx.id) != nil { ctx.cancel() }
      return running.count == 1
    }
  }

  func finished(_ id: JobID) {
    monitor.locked {
      running[id] = nil
      inFlight -= 1
      monitor.broadcast()
    }
  }

  func cancel(_ id: JobID) {
    monitor.locked {
      if let ctx = running[id] {
        ctx.cancel()
      } else if pending[head...].contains(where: { $0.id == id }) {
        cancelledEarly.insert(id)
      }
    }
  }

  /// Gives back every assignment not yet started, reporting each as released.
  func release(out: FrameWriter) {
    let given: [Assignment] = monitor.locked {
      let rest = Array(pending[head...])
      pending.removeAll()
      head = 0
      for a in rest { cancelledEarly.remove(a.id) }
      return rest
    }
    for a in given { out.send(.released(a.id)) }
  }

  func beginShutdown() {
    monitor.locked {
      shuttingDown = true
      if inFlight == 0 && head == pending.count { exit(WorkerExit.normal) }
      monitor.broadcast()
    }
  }

  func shutdownComplete() -> Bool {
    monitor.locked { shuttingDown && inFlight == 0 && head == pending.count }
  }
}

/// Serialises frames from several threads onto the socket: one `write` per frame.
final class FrameWriter: @unchecked Sendable {
  // @unchecked: `buffer` is touched only while `monitor` is held.
  private let fd: Int32
  private let monitor = Monitor()
  private var buffer: [UInt8] = []

  init(fd: Int32) { self.fd = fd }

  func send(_ m: WorkerMessage) {
    monitor.locked {
      buffer.removeAll(keepingCapacity: true)
      FrameEncoder.append(m, to: &buffer)
      var off = 0
      while off < buffer.count {
        let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n < 0 {
          if errno == EINTR { continue }
          // The supervisor is gone (EPIPE): as in readLoop, take our commands along.
          ExecChildren.shared.sweepAll()
          OwnProcessGroup.killAll()
          exit(WorkerExit.orphaned)
        }
        off += n
      }
    }
  }
}
