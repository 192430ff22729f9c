import DroverSystem

/// sd_notify for the loop: errors are ignored (systemd not listening is not our failure), and
/// everything is a no-op without NOTIFY_SOCKET.
struct Notifier {
  func notify(_ state: String) {
    _ = try? SystemdNotifier.notify(state)
  }

  func watchdogInterval() -> Duration? { SystemdNotifier.watchdogInterval() }
}
