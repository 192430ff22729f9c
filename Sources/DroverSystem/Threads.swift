#if canImport(Glibc)
  import Glibc
#endif

/// A mutex with a condition variable, for the few threads beside an event loop (the worker's
/// executors, the supervisor's store reader and event streamers).
///
/// `@unchecked Sendable` is sound: the pthread objects are heap-allocated once, never moved,
/// and every access to shared state goes through `locked`, which holds the mutex.
public final class Monitor: @unchecked Sendable {
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
  private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  public init() {
    pthread_mutex_init(mutex, nil)
    var attr = pthread_condattr_t()
    pthread_condattr_init(&attr)
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
    pthread_cond_init(cond, &attr)
    pthread_condattr_destroy(&attr)
  }

  deinit {
    pthread_cond_destroy(cond)
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
    cond.deallocate()
  }

  public func locked<T>(_ body: () throws -> T) rethrows -> T {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    return try body()
  }

  /// Waits (mutex held by the caller inside `locked`) until signalled or `deadlineNS`
  /// (CLOCK_MONOTONIC nanoseconds, as `Monotonic.nanoseconds()` reads) passes; nil waits
  /// without limit.
  public func wait(untilNS deadlineNS: Int64? = nil) {
    if let d = deadlineNS {
      var ts = timespec(tv_sec: Int(d / 1_000_000_000), tv_nsec: Int(d % 1_000_000_000))
      pthread_cond_timedwait(cond, mutex, &ts)
    } else {
      pthread_cond_wait(cond, mutex)
    }
  }

  public func broadcast() { pthread_cond_broadcast(cond) }
}

private final class ThreadBody {
  let run: () -> Void
  init(_ run: @escaping () -> Void) { self.run = run }
}

/// Starts a detached POSIX thread running `body`.
public func startThread(_ body: @escaping @Sendable () -> Void) {
  let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
  var tid = pthread_t()
  let rc = pthread_create(
    &tid, nil,
    { arg in
      let b = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
      b.run()
      return nil
    }, box)
  precondition(rc == 0, "pthread_create failed: \(rc)")
  pthread_detach(tid)
}
