import DroverSystem

#if canImport(Glibc)
  import Glibc
#endif

/// Where the control socket comes from: systemd's socket unit when socket-activated (clients
/// may connect while the supervisor starts or restarts), else a socket bound here.
extension Supervisor {
  /// The control listener: the one systemd passed as `control` (`FileDescriptorName=control`
  /// in drover.socket), or a new socket at `[control] socket`.
  func openControlListener() throws -> UnixListener {
    guard let fd = SocketActivation.take(named: SocketActivation.controlName) else {
      return try UnixSocket.listen(path: config.control.socket, mode: 0o660)
    }
    let listener = try UnixSocket.adopt(fd)
    // `drover ctl` finds the supervisor through the config's path: a socket unit listening
    // elsewhere would leave every CLI command knocking on the wrong door.
    if listener.path != config.control.socket {
      log(
        .warning,
        "systemd passed a control socket at \(listener.path) but [control] socket is "
          + "\(config.control.socket); `drover ctl` will not find this supervisor",
        ["fd": "\(fd)"])
    }
    log(.info, "control socket taken from systemd", ["path": "\(listener.path)", "fd": "\(fd)"])
    for name in SocketActivation.untaken() where name != SocketActivation.httpName {
      log(.warning, "systemd passed a socket named \"\(name)\" that nothing uses")
    }
    return listener
  }

  /// Closes the control listener at exit. A socket bound here is removed with it; systemd's
  /// stays, since the socket unit keeps listening and starts the supervisor on the next
  /// connection.
  func closeControlListener() {
    unregister(listenerFD)
    let activated = SocketActivation.isActivated(listenerFD)
    FD.close(listenerFD)
    if !activated { unlink(config.control.socket) }
  }
}
