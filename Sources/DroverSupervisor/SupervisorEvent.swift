/// Everything that can happen to the supervisor: one enum, handled by one switch in
/// `Supervisor.handle(_:)`. Sources only produce events; all work happens in the handler.
enum SupervisorEvent {
  /// A signal arrived (read from the signalfd): TERM/INT drain and exit, HUP reloads.
  case signal(Int32)
  /// A worker's socket has bytes (frames) or hung up.
  case workerReadable(WorkerHandle)
  /// A worker process exited (its pidfd became readable).
  case workerExited(WorkerHandle)
  /// A client is connecting to the control socket.
  case controlAccept
  /// A control client sent bytes or hung up.
  case controlReadable(ControlConnection)
  /// A control client can take more of its replies.
  case controlWritable(ControlConnection)
  /// Another thread posted to the mailbox (a request, or a finished store read).
  case mailbox
  /// The periodic housekeeping tick: timeouts, heartbeats, due jobs, scaling, watchdog.
  case tick
  /// The store's wake-up descriptor is readable (PostgreSQL: a notification arrived).
  case storeWake
}

/// What an epoll registration stands for.
enum EventSource {
  case signals
  case worker(WorkerHandle)
  case workerPidFD(WorkerHandle)
  case controlListener
  case control(ControlConnection)
  case mailbox
  case store
}

/// The supervisor's overall state, as `ctl status` shows it (CONTRACT.md).
public enum SupervisorState: String, Sendable {
  /// Control socket up, pools not yet at `min`.
  case starting
  /// Dispatching.
  case running
  /// `ctl drain` of every pool: running jobs still finishing.
  case draining
  /// `ctl drain` of every pool, nothing running: quiet until `ctl resume`.
  case drained
  /// SIGTERM/SIGINT: draining, then exiting.
  case stopping
}
