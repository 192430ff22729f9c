import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// A `ctl upgrade` or SIGUSR2 waiting for a quiet moment to hand over.
struct UpgradeRequest {
  let path: String
  let newVersion: String
  let since: MonotonicInstant
  /// The `ctl upgrade` reply (nil for SIGUSR2); called only when the upgrade does not happen:
  /// on success the new image answers the same connection.
  let reply: ((ControlReply) -> Void)?
}

/// The in-place upgrade (`drover ctl upgrade`, SIGUSR2): check that the executable now on disk
/// starts and speaks this state format, wait for a quiet moment (nothing half-sent, nothing
/// uncommitted), write the state to a memfd and execve the new binary in this process. Same
/// pid, so systemd sees no restart; the listener stays open, so no client is refused (new
/// connections wait in its backlog); the store lock and the workers' sockets stay open, so
/// running jobs go on and their outcomes reach the new image. The new image then retires the
/// old workers one at a time per pool, each after its jobs, and spawns new ones.
extension Supervisor {
  /// The handover format this build writes and reads; `drover upgrade-probe` reports it so a
  /// supervisor never execs a binary that cannot read its state.
  public static let upgradeFormat = UpgradeState.format

  /// How long a requested upgrade may wait for a quiet moment before it is given up.
  static let upgradeQuietLimit: Duration = .seconds(10)

  /// Starts an upgrade; a refusal is logged and given to `reply`.
  func requestUpgrade(trigger: String, reply: ((ControlReply) -> Void)?) {
    func refuse(_ why: String) {
      log(
        .error, "upgrade (\(trigger)) refused, still running \(DroverVersion.description): \(why)")
      reply?(.failure("upgrade refused, still running \(DroverVersion.description): \(why)"))
    }
    guard upgradePending == nil else { return refuse("an upgrade is already under way") }
    guard state != .stopping else { return refuse("the supervisor is stopping") }
    guard store is any SessionHandover else {
      return refuse("this store cannot hand its session over")
    }
    if let removed = pools.first(where: \.removed) {
      return refuse(
        "pool \(removed.name) is still retiring after a reload; try again when it is gone")
    }
    guard let path = ExecInPlace.executableOnDisk() else {
      return refuse("cannot tell where this executable is (/proc/self/exe)")
    }
    if let configPath = options.configPath {
      // The new image loads the config from disk: it must still run every pool that has workers.
      do {
        let onDisk = try ConfigLoader.load(path: configPath)
        let names = Set(onDisk.pools.map(\.name))
        if let missing = pools.first(where: { !names.contains($0.name) }) {
          return refuse("the config on disk has no pool \(missing.name): reload it first")
        }
        if onDisk.store.path != config.store.path || onDisk.control.socket != config.control.socket
        {
          return refuse("the config on disk moved the store or the control socket: restart instead")
        }
      } catch {
        return refuse("the config on disk does not load: \(error)")
      }
    }
    let newVersion: String
    switch Self.probe(path) {
    case .success(let v): newVersion = v
    case .failure(let why): return refuse("\(path) cannot take over: \(why)")
    }
    log(.notice, "upgrade (\(trigger)): \(DroverVersion.description) → \(newVersion) from \(path)")
    notifier.notify("RELOADING=1\nMONOTONIC_USEC=\(Monotonic.microseconds())")
    upgradePending = UpgradeRequest(
      path: path, newVersion: newVersion, since: clock.monotonic(), reply: reply)
  }

  /// Runs `PATH upgrade-probe` and reads its answer on fd 3: `drover-upgrade FORMAT VERSION`.
  /// A binary that cannot start (not executable, missing libraries, crashes) or that does not
  /// know this state format fails here, before anything is handed over.
  static func probe(_ path: String) -> Result<String, ProbeFailure> {
    do {
      let (readEnd, writeEnd) = try PipePair.make()
      defer { FD.close(readEnd) }
      let pid: Int32
      do {
        pid = try ProcessSpawner.spawn(
          executable: path, arguments: ["upgrade-probe"],
          environment: .inheritWith(
            overrides: [:],
            removing: SystemdNotifier.environmentKeys + [
              UpgradeState.fdVariable, UpgradeState.failedVariable, "DROVER_UPGRADE_ROLLBACK_FD",
            ]),
          childFD: writeEnd, processGroup: .newGroup)
      } catch {
        FD.close(writeEnd)
        throw error
      }
      FD.close(writeEnd)
      guard let status = try ProcessReaper.waitForExit(pid, timeout: .seconds(10)) else {
        _ = kill(pid, SIGKILL)
        _ = try? ProcessReaper.waitForExit(pid)
        return .failure(ProbeFailure("it did not answer `upgrade-probe` within 10 s"))
      }
      var text: [UInt8] = []
      var buffer = [UInt8](repeating: 0, count: 4096)
      while let n = try? FD.read(readEnd, into: &buffer), n > 0 { text += buffer[0..<n] }
      let answer = String(decoding: text, as: UTF8.self).split(separator: "\n").first ?? ""
      let prefix = "drover-upgrade \(UpgradeState.format) "
      guard status == .exited(0), answer.hasPrefix(prefix) else {
        return .failure(
          ProbeFailure(
            "`upgrade-probe` \(status) and answered \"\(answer)\" (wanted \"\(prefix)VERSION\")"
          ))
      }
      return .success(String(answer.dropFirst(prefix.count)))
    } catch {
      return .failure(ProbeFailure("cannot run it: \(error)"))
    }
  }

  /// Why a new binary was refused.
  struct ProbeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
  }

  /// Called every tick while an upgrade waits: hands over at the first quiet moment.
  func advanceUpgrade(now: MonotonicInstant) {
    guard let request = upgradePending else { return }
    // Write what is due now so the moment can be quiet: commits, frames, replies.
    commit()
    for w in workersByFD.values where !w.outBuffer.isEmpty { flush(w) }
    for c in connections.values where !c.output.isEmpty { flush(c) }
    if let busy = notQuiet(awaitingReply: request.reply != nil) {
      if now - request.since > Self.upgradeQuietLimit {
        upgradePending = nil
        notifier.notify("READY=1\nSTATUS=" + statusLine())
        log(.error, "upgrade given up: no quiet moment in \(Self.upgradeQuietLimit) (\(busy))")
        request.reply?(
          .failure("upgrade given up, still running \(DroverVersion.description): \(busy)"))
      }
      return
    }
    handOver(request)
  }

  /// What keeps this moment from being quiet, or nil when it is.
  func notQuiet(awaitingReply: Bool) -> String? {
    if state == .stopping { return "the supervisor is stopping" }
    if !pendingFinishes.isEmpty || !pendingEnqueues.isEmpty || !pendingProgress.isEmpty
      || !pendingStarts.isEmpty
    {
      return "commits pending"
    }
    if !pendingReads.isEmpty { return "store reads pending" }
    for w in workersByFD.values {
      if !w.outBuffer.isEmpty || w.decoder.pendingBytes > 0 { return "worker \(w.pid) mid-frame" }
      if w.kill != nil || !w.socketOpen { return "worker \(w.pid) is being stopped" }
      if w.inFlight.contains(where: { $0.stop != nil }) {
        return "a job on worker \(w.pid) is being stopped"
      }
    }
    var waiting = 0
    for c in connections.values where !c.detached {
      if !c.output.isEmpty || c.closing || c.refusedAt != nil {
        return "control client fd \(c.fd) has replies in flight"
      }
      let unanswered = c.slots.filter { $0 == nil }.count
      if unanswered > 1 || c.slots.count != unanswered {
        return "control client fd \(c.fd) waits for replies"
      }
      waiting += unanswered
    }
    if waiting != (awaitingReply ? 1 : 0) { return "control clients wait for replies" }
    return nil
  }

  /// Writes the state, keeps the descriptors across exec and execs the new binary. Returns
  /// only when the exec failed; everything then goes on as before.
  func handOver(_ request: UpgradeRequest) {
    upgradePending = nil
    publishPendingEvents()
    let lockFD = (store as? any SessionHandover)?.sessionLockFD ?? -1
    let rollbackFD = open("/proc/self/exe", O_RDONLY)
    let st = UpgradeState(
      fromVersion: DroverVersion.description, arguments: CommandLine.arguments,
      startedAt: request.since.nanoseconds,
      rollbackFD: rollbackFD, owner: owner, lockFD: lockFD, listenerFD: listenerFD,
      listenerActivated: SocketActivation.isActivated(listenerFD), controlGID: controlSocketGID,
      completedTotal: completedTotal, deadGroups: deadGroups,
      connections: connections.values.filter { !$0.detached }.map { c in
        UpgradeState.Connection(
          fd: c.fd, peerUID: c.peerUID, input: Array(c.input[c.inputStart...]),
          awaitsReply: !c.slots.isEmpty)
      },
      pools: pools.map { p in
        UpgradeState.Pool(
          name: p.name, target: p.target, auto: p.auto, paused: p.paused,
          workers: p.workers.map { w in
            UpgradeState.Worker(
              pid: w.pid, fd: w.fd, pidfd: w.pidfd,
              phase: w.phase == .ready ? "ready" : w.phase == .booting ? "booting" : "retiring",
              jobsDone: w.jobsDone, recycleAfter: w.recycleAfter, concurrency: w.concurrency,
              spawnedAt: w.spawnedAt.nanoseconds, averageRun: w.averageRun?.saturatingNanoseconds,
              inFlight: w.inFlight.map { j in
                UpgradeState.InFlight(
                  id: j.id, attempt: j.attempt, type: j.type, assignedAt: j.assignedAt.nanoseconds,
                  startedAt: j.startedAt?.nanoseconds)
              })
          })
      })
    func fail(_ why: String) {
      for fd in st.descriptors where fd >= 0 { try? ExecInPlace.setCloseOnExec(fd, true) }
      if rollbackFD >= 0 { FD.close(rollbackFD) }
      notifier.notify("READY=1\nSTATUS=" + statusLine())
      log(.error, "upgrade failed, still running \(DroverVersion.description): \(why)")
      request.reply?(.failure("upgrade failed, still running \(DroverVersion.description): \(why)"))
    }
    guard lockFD >= 0, rollbackFD >= 0 else {
      return fail("no store lock or no executable to return to")
    }
    let memfd: Int32
    do {
      memfd = try ExecInPlace.memfd(name: "drover-upgrade", contents: Array(st.json.render().utf8))
      for fd in st.descriptors { try ExecInPlace.setCloseOnExec(fd, false) }
    } catch {
      return fail("\(error)")
    }
    var environment = ExecInPlace.environment().filter {
      !$0.hasPrefix(UpgradeState.fdVariable + "=")
        && !$0.hasPrefix(UpgradeState.failedVariable + "=")
        && !$0.hasPrefix("DROVER_UPGRADE_ROLLBACK_FD=")
    }
    environment += [
      "\(UpgradeState.fdVariable)=\(memfd)", "DROVER_UPGRADE_ROLLBACK_FD=\(rollbackFD)",
    ]
    log(
      .notice,
      "upgrade: handing over to \(request.path) (\(workersByFD.count) workers, "
        + "\(workersByFD.values.reduce(0) { $0 + $1.inFlight.count }) jobs in flight)")
    let error = ExecInPlace.exec(
      path: request.path, arguments: CommandLine.arguments, environment: environment)
    FD.close(memfd)
    fail("\(error)")
  }

  /// In the new image: takes over what the old one handed over (see `UpgradeState`).
  func restore(_ st: UpgradeState) {
    let now = clock.monotonic()
    for fd in st.descriptors where fd >= 0 { try? ExecInPlace.setCloseOnExec(fd, true) }
    listenerFD = st.listenerFD
    controlSocketGID = st.controlGID
    if st.listenerActivated { SocketActivation.adopt(st.listenerFD) }
    register(listenerFD, .controlListener)
    completedTotal = st.completedTotal
    deadGroups = st.deadGroups
    var restored = 0
    var jobs = 0
    for sp in st.pools {
      guard let p = pool(named: sp.name) else { continue }  // checked before the exec and in init
      p.target = min(p.config.max, max(p.config.min, sp.target))
      p.auto = sp.auto
      p.paused = sp.paused
      for sw in sp.workers {
        let w = WorkerHandle(
          pid: sw.pid, fd: sw.fd, pidfd: sw.pidfd, pool: sp.name, concurrency: sw.concurrency,
          now: MonotonicInstant(nanoseconds: sw.spawnedAt), recycleAfter: sw.recycleAfter)
        w.phase = sw.phase == "ready" ? .ready : sw.phase == "booting" ? .booting : .retiring
        w.jobsDone = sw.jobsDone
        w.averageRun = sw.averageRun.map { .nanoseconds($0) }
        // Silence during the exec is not a hang.
        w.lastHeard = now
        w.idleSince = now
        // After a rollback this is the old binary again: nothing to roll.
        w.fromOldBinary = getenv(UpgradeState.failedVariable) == nil
        w.inFlight = sw.inFlight.map { j in
          WorkerHandle.InFlight(
            id: j.id, attempt: j.attempt, type: j.type,
            assignedAt: MonotonicInstant(nanoseconds: j.assignedAt),
            startedAt: j.startedAt.map { MonotonicInstant(nanoseconds: $0) }, stop: nil,
            stopDeadline: nil)
        }
        jobs += w.inFlight.count
        p.workers.append(w)
        workersByFD[w.fd] = w
        register(w.fd, .worker(w))
        register(w.pidfd, .workerPidFD(w))
        restored += 1
      }
    }
    let failed = getenv(UpgradeState.failedVariable).map { String(cString: $0) }
    unsetenv(UpgradeState.failedVariable)
    let took = now - MonotonicInstant(nanoseconds: st.startedAt)
    let reply: ControlReply
    if let failed {
      log(.error, "upgrade rolled back to \(DroverVersion.description): the new binary \(failed)")
      reply = .failure(
        "upgrade rolled back to \(DroverVersion.description): the new binary \(failed)")
    } else {
      log(
        .notice, "upgraded in place: \(st.fromVersion) → \(DroverVersion.description)",
        [
          "pid": "\(getpid())", "workers": "\(restored)", "jobs_in_flight": "\(jobs)",
          "took_ms": "\(took.milliseconds)",
        ])
      reply = .upgraded(
        from: st.fromVersion, to: DroverVersion.description, pid: getpid(), took: took)
    }
    for sc in st.connections {
      let c = ControlConnection(fd: sc.fd, peerUID: sc.peerUID, now: now)
      c.input = sc.input
      c.backlog = sc.input.contains(0x0A)
      connections[sc.fd] = c
      register(sc.fd, .control(c))
      if sc.awaitsReply { c.fill(c.reserve(), reply.line) }
    }
    FD.close(st.memfd)
    if st.rollbackFD >= 0 { FD.close(st.rollbackFD) }
  }

  /// Rolls the pools onto the new binary after an upgrade: per pool, one old worker at a time
  /// is retired (it finishes its jobs, takes no new ones, then exits) while `reconcile` starts
  /// its replacement from the new executable.
  func rollOldWorkers() {
    for p in pools {
      let old = p.workers.filter(\.fromOldBinary)
      guard !old.isEmpty, !old.contains(where: { $0.phase == .retiring || $0.kill != nil }) else {
        continue
      }
      // An idle one first: it goes at once.
      let next =
        old.first { $0.inFlight.isEmpty && $0.phase == .ready } ?? old.first { $0.phase == .ready }
      if let next { retire(next) }
    }
  }

  /// In a new image that cannot take the handed-over state: back to the old executable
  /// (`DROVER_UPGRADE_ROLLBACK_FD`), in this same process, with the same state, the old
  /// image's own command line and a note of why. Returns only when this process is not the
  /// new image of an upgrade, or the old executable cannot be run (the caller then fails).
  public static func rollBackFailedUpgrade(because why: String) {
    let stateText =
      UpgradeState.lastFD.map { "\($0)" }
      ?? getenv(UpgradeState.fdVariable).map { String(cString: $0) }
    guard let text = getenv("DROVER_UPGRADE_ROLLBACK_FD").map({ String(cString: $0) }),
      let fd = Int32(text), let stateText, let stateFD = Int32(stateText)
    else { return }
    var environment = ExecInPlace.environment().filter {
      !$0.hasPrefix("DROVER_UPGRADE_ROLLBACK_FD=") && !$0.hasPrefix(UpgradeState.fdVariable + "=")
    }
    environment += [
      "\(UpgradeState.fdVariable)=\(stateFD)", "\(UpgradeState.failedVariable)=\(why)",
    ]
    let arguments = UpgradeState.arguments(inStateOn: stateFD) ?? CommandLine.arguments
    let error = ExecInPlace.exec(
      path: "/proc/self/fd/\(fd)", arguments: arguments, environment: environment)
    Logger(label: "drover.supervisor").critical("upgrade rollback impossible: \(error)")
  }

  static func rollBack(because why: String) { rollBackFailedUpgrade(because: why) }
}
