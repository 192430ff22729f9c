/// Who may use the control socket.
public enum PeerPolicy {
  /// Whether a peer may issue commands: root (uid 0), the server's own user, or a member of
  /// the socket file's group, whether primary (`peerGID`) or supplementary
  /// (`peerGroups`, from ``PeerCredentials/groups(of:)``).
  ///
  /// Mirrors what mode 0660 already lets through the file system, so a mismatch between the
  /// two cannot lock out someone the operator meant to let in. Everyone else is refused,
  /// including a peer whose only link is the server's *own* primary group when that is not
  /// the socket's group.
  public static func allows(
    peerUID: UInt32, peerGID: UInt32, peerGroups: [UInt32] = [], serverUID: UInt32,
    socketGID: UInt32
  ) -> Bool {
    peerUID == 0 || peerUID == serverUID || peerGID == socketGID || peerGroups.contains(socketGID)
  }

  /// ``allows(peerUID:peerGID:peerGroups:serverUID:socketGID:)`` for a credentials value.
  public static func allows(
    _ peer: PeerCredentials, peerGroups: [UInt32] = [], serverUID: UInt32, socketGID: UInt32
  ) -> Bool {
    allows(
      peerUID: peer.uid, peerGID: peer.gid, peerGroups: peerGroups, serverUID: serverUID,
      socketGID: socketGID)
  }
}
