import DroverSystem
import Synchronization

/// What other threads may know of the loop without asking it: when its housekeeping last ran
/// and the supervisor's state then. Written by the loop once per tick (one uncontended lock),
/// read by `GET /livez` and `GET /readyz`, which must answer even when the loop is stuck and
/// could not answer a request.
public final class LoopProbe: Sendable {
  private struct Beat {
    var atNS: Int64
    var state: SupervisorState
    var storeProblem: String?
  }
  private let beat: Mutex<Beat>

  init() {
    beat = Mutex(Beat(atNS: Monotonic.nanoseconds(), state: .starting, storeProblem: nil))
  }

  /// The loop ran its housekeeping (the tick that also feeds systemd's watchdog).
  func tick(state: SupervisorState, storeProblem: String? = nil) {
    let now = Monotonic.nanoseconds()
    beat.withLock { $0 = Beat(atNS: now, state: state, storeProblem: storeProblem) }
  }

  /// What `status` just reported about the store (between ticks): `GET /readyz` then agrees
  /// with the `GET /health` that asked for it.
  func set(storeProblem: String?) {
    beat.withLock { $0.storeProblem = storeProblem }
  }

  /// The supervisor's state changed (between ticks).
  func set(state: SupervisorState) {
    beat.withLock { $0.state = state }
  }

  /// How long ago the loop last ran its housekeeping.
  public var sinceLastTick: Duration {
    let at = beat.withLock { $0.atNS }
    return .nanoseconds(max(0, Monotonic.nanoseconds() - at))
  }

  /// The supervisor's state at its last tick.
  public var state: SupervisorState { beat.withLock { $0.state } }

  /// Why the store could not be written at the last tick (unreachable, failing commits,
  /// lost), nil when it could: `GET /readyz` fails while it is set.
  public var storeProblem: String? { beat.withLock { $0.storeProblem } }
}
