import DroverAlerts
import DroverCore
import DroverSupervisor
import DroverSystem
import Logging

/// The alert engine of `drover serve`: started before the loop runs when `[alerts]` is set,
/// or by the first reload that sets it; a reload hands the engine its new settings.
final class ServeAlerts: Sendable {
  private let monitor = Monitor()
  // Guarded by `monitor`.
  nonisolated(unsafe) private var engine: AlertEngine?
  private let events: EventBus
  private let mailbox: Mailbox
  private let logger = Logger(label: "drover.alerts")

  init(_ supervisor: Supervisor) {
    events = supervisor.events
    mailbox = supervisor.mailbox
    start(supervisor.currentConfig)
    supervisor.onReload = { [self] config in reloaded(config) }
  }

  private func start(_ config: DroverConfig) {
    guard config.alerts != nil else { return }
    let engine = AlertEngine(config: config, events: events, mailbox: mailbox, logger: logger)
    do {
      try engine.start()
      monitor.locked { self.engine = engine }
    } catch {
      logger.error("alerts: cannot start: \(error)")
    }
  }

  private func reloaded(_ config: DroverConfig) {
    if let engine = monitor.locked({ engine }) {
      engine.reload(config)
    } else {
      start(config)
    }
  }

  /// Stops the engine (queued alerts get a short grace). Harmless twice.
  func stop() {
    monitor.locked { engine }?.stop()
  }
}
