import CSystemd
import Glibc

/// The supervisor's messages to systemd (sd_notify(3)), for `Type=notify` services.
///
/// Every call is a cheap no-op when `NOTIFY_SOCKET` is unset (not started by systemd), so
/// callers need not check ``isEnabled`` first. Each helper returns whether a message was sent.
/// systemd only accepts messages from the main pid under the default `NotifyAccess=main`:
/// send them from the supervisor, and spawn children without these variables
/// (``environmentKeys``).
public enum SystemdNotifier {
  /// The variables systemd hands the service: remove them from a child's environment
  /// (`SpawnEnvironment.inheritWith(overrides:removing:)`) so a worker never mistakes itself
  /// for the service's main process.
  public static let environmentKeys = [
    "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
    "LISTEN_FDNAMES",
  ]

  /// Whether `NOTIFY_SOCKET` is set.
  public static var isEnabled: Bool { getenv("NOTIFY_SOCKET") != nil }

  /// Sends `state`: newline-separated `NAME=value` assignments, e.g. `"READY=1\nSTATUS=up"`.
  ///
  /// - Returns: `true` if sent; `false` if `NOTIFY_SOCKET` is unset.
  /// - Throws: when `NOTIFY_SOCKET` is set but unusable (bad address, nobody listening).
  @discardableResult
  public static func notify(_ state: String) throws(SystemError) -> Bool {
    let result = sd_notify(0, state)
    if result < 0 {
      let first = state.split(separator: "\n").first.map(String.init) ?? state
      throw SystemError(call: "sd_notify", code: -result, detail: first)
    }
    return result > 0
  }

  /// `READY=1`, with an optional `STATUS=`: startup is complete (pools are up). Send it again
  /// after a reload.
  @discardableResult
  public static func ready(status: String? = nil) throws(SystemError) -> Bool {
    try notify("READY=1" + statusLine(status))
  }

  /// `STATUS=text`: the one-line summary `systemctl status` shows. Newlines in `text` become
  /// spaces (a newline would start another assignment).
  @discardableResult
  public static func status(_ text: String) throws(SystemError) -> Bool {
    try notify("STATUS=" + oneLine(text))
  }

  /// `WATCHDOG=1`: the main loop is alive. Send it at half of ``watchdogInterval()`` or more
  /// often, only while the loop is healthy.
  @discardableResult
  public static func watchdog() throws(SystemError) -> Bool {
    try notify("WATCHDOG=1")
  }

  /// `RELOADING=1` with `MONOTONIC_USEC=` (CLOCK_MONOTONIC now, in µs, which systemd 253+
  /// requires for `Type=notify-reload`): a configuration reload started. Follow it with
  /// ``ready(status:)`` when done, also when the new config was rejected.
  @discardableResult
  public static func reloading(status: String? = nil) throws(SystemError) -> Bool {
    try notify("RELOADING=1\nMONOTONIC_USEC=\(Monotonic.microseconds())" + statusLine(status))
  }

  /// `STOPPING=1`: shutdown (drain) started.
  @discardableResult
  public static func stopping(status: String? = nil) throws(SystemError) -> Bool {
    try notify("STOPPING=1" + statusLine(status))
  }

  /// `EXTEND_TIMEOUT_USEC=n`: ask systemd to wait `extra` longer than now before it gives up
  /// on the current start, reload or stop (e.g. while draining). Repeat before it runs out.
  @discardableResult
  public static func extendTimeout(_ extra: Duration) throws(SystemError) -> Bool {
    try notify("EXTEND_TIMEOUT_USEC=\(Swift.max(0, extra.saturatingMicroseconds))")
  }

  /// The watchdog timeout systemd expects pings within (`WATCHDOG_USEC`), or `nil` when the
  /// watchdog is off, the variables are malformed, or `WATCHDOG_PID` names another process.
  ///
  /// This is the full timeout; pinging at half of it, as systemd recommends, is the caller's
  /// choice.
  public static func watchdogInterval() -> Duration? {
    var usec: UInt64 = 0
    guard sd_watchdog_enabled(0, &usec) > 0 else { return nil }
    return .microseconds(Int64(clamping: usec))
  }

  private static func oneLine(_ text: String) -> String {
    String(text.map { $0.isNewline ? " " : $0 })
  }

  private static func statusLine(_ status: String?) -> String {
    status.map { "\nSTATUS=" + oneLine($0) } ?? ""
  }
}
