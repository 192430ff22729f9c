public import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// A store whose session can pass to the next program image of the same process (the
/// in-place upgrade): the file lock is an open descriptor kept across exec, and the owner row
/// stays, so the running jobs stay leased to the same owner and nobody else can take the
/// store in between.
public protocol SessionHandover: AnyObject {
  /// The descriptor holding the store's exclusive lock, or nil without a session.
  var sessionLockFD: Int32? { get }
  /// Takes over `owner`'s session with the lock already held on `lockFD` (inherited across
  /// exec): no new lock, no new owner row; the lease is renewed at once.
  ///
  /// - Throws: `.conflict` when the owner row is gone (its lease ran out meanwhile) or this
  ///   object already holds a session.
  func adoptSession(owner: OwnerID, lockFD: Int32, lease: Duration, now: Timestamp)
    throws(StoreError)
}

extension SQLiteStore: SessionHandover {
  public var sessionLockFD: Int32? { session == nil || lockFD < 0 ? nil : lockFD }

  public func adoptSession(owner: OwnerID, lockFD fd: Int32, lease: Duration, now: Timestamp)
    throws(StoreError)
  {
    try requireWritable()
    if let session {
      throw .conflict("this store object already holds session \(session) on \(path)")
    }
    try renewLease(LeaseParams(owner: owner, lease: lease, now: now))
    lockFD = fd
    session = owner
  }
}
