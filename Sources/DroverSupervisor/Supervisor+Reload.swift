public import DroverCore
import DroverSystem
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// SIGHUP / `ctl reload`: re-read the config and converge on it without dropping jobs.
extension Supervisor {
  /// The config in force: read it before `run`, or on the loop thread.
  public var currentConfig: DroverConfig { config }

  /// Loads the config file again; on success applies it, on failure keeps the old one.
  func reload(trigger: String) -> Result<Void, ConfigError> {
    guard let path = options.configPath else {
      return .failure(ConfigError(message: "no config file to reload"))
    }
    notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(Monotonic.microseconds())")
    defer { notifier.notify("READY=1\nSTATUS=" + statusLine()) }
    let new: DroverConfig
    do {
      new = try ConfigLoader.load(path: path, knownHandlers: options.knownHandlers)
    } catch {
      log(.error, "reload (\(trigger)) rejected, old config kept: \(error)")
      return .failure(error)
    }
    let fixed: String? =
      new.store.path != config.store.path
      ? "store.path"
      : new.store.url != config.store.url
        ? "store.url" : new.control.socket != config.control.socket ? "control.socket" : nil
    if let fixed {
      let e = ConfigError(
        file: path, key: fixed, message: "cannot change on reload; restart the supervisor")
      log(.error, "reload (\(trigger)) rejected, old config kept: \(e)")
      return .failure(e)
    }
    do {
      try schedules.replace(with: new.schedules)
    } catch {
      log(.error, "reload (\(trigger)) rejected, old config kept: \(error)")
      return .failure(ConfigError(file: path, key: "schedules", message: "\(error)"))
    }
    apply(new)
    onReload?(new)
    log(.notice, "config reloaded (\(trigger))")
    return .success(())
  }

  /// Converges the pools on `new`: new pools start, removed pools retire their workers after
  /// their jobs, changed pools roll their workers when what a worker runs changed.
  func apply(_ new: DroverConfig) {
    config = new
    for pc in new.pools {
      if let p = pool(named: pc.name), !p.removed {
        let rolled =
          p.config.handler != pc.handler || p.config.command != pc.command
          || p.config.concurrency != pc.concurrency
        p.config = pc
        p.target = min(pc.max, max(pc.min, p.target))
        if rolled {
          for w in p.workers { retire(w) }
        }
        p.crashLooping = false
        p.failures = 0
        p.bootFailures = 0
        p.restartNotBefore = nil
        p.maybeHasWork = true
      } else {
        pools.removeAll { $0.name == pc.name && $0.removed && $0.workers.isEmpty }
        let p = PoolState(config: pc, workList: workList)
        if state == .stopping { p.paused = true }
        pools.append(p)
      }
    }
    let names = Set(new.pools.map(\.name))
    for p in pools where !names.contains(p.name) {
      p.removed = true
      for w in p.workers { retire(w) }
    }
  }
}
