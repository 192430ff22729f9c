import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

extension Supervisor {
  /// The handed-over state when this process is the new image of an in-place upgrade, checked
  /// against the config it loaded; on a state it cannot take, back to the old image
  /// (`rollBack`), else the start fails.
  static func inheritedState(config: DroverConfig) throws -> UpgradeState? {
    let state: UpgradeState?
    do {
      state = try UpgradeState.inherited()
    } catch {
      rollBack(because: "could not read the handed-over state: \(error)")
      throw error
    }
    guard let state else { return nil }
    let names = Set(config.pools.map(\.name))
    if let missing = state.pools.first(where: { !names.contains($0.name) }) {
      let why = "has no pool \(missing.name) in its config"
      rollBack(because: why)
      throw ConfigError(message: "upgrade: the new image \(why)")
    }
    return state
  }

  /// Takes the session over from the previous image (same owner, lock already held).
  static func adoptSession(_ state: UpgradeState, store: any JobStore, options: SupervisorOptions)
    throws -> OwnerID
  {
    guard let handover = store as? any SessionHandover else {
      rollBack(because: "opened a store that cannot take a session over")
      throw ConfigError(message: "upgrade: this store cannot take a session over")
    }
    do {
      try handover.adoptSession(
        owner: state.owner, lockFD: state.lockFD, lease: options.lease, now: options.clock.wall())
    } catch {
      rollBack(because: "could not take the store session over: \(error)")
      throw error
    }
    return state.owner
  }
}
