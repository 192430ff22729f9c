import DroverCore

extension PostgresStore {
  /// Slots not recorded yet are inserted (the primary key decides under concurrency: a peer
  /// recording the same slot first wins, and this call then enqueues nothing for it), their
  /// jobs enqueued, in one transaction.
  public func fireSlots(_ slots: [SlotFire]) throws(StoreError) -> [SlotResult] {
    try requireWritable()
    for (i, s) in slots.enumerated() {
      try s.job?.validate(index: i, of: slots.count, maxPayload: maxPayload)
    }
    if slots.isEmpty { return [] }
    try ready()
    let now = Timestamp.now()
    return try transaction { () throws(StoreError) in
      var results: [SlotResult] = []
      for s in slots {
        let claimed = try db.exec(
          """
          INSERT INTO drover_schedule_slots (schedule, slot, job_id, recorded_at)
          VALUES ($1, $2, NULL, $3) ON CONFLICT (schedule, slot) DO NOTHING RETURNING slot
          """, s.schedule, s.slot, now)
        guard claimed.count == 1 else {
          let r = try db.exec(
            "SELECT job_id FROM drover_schedule_slots WHERE schedule = $1 AND slot = $2",
            s.schedule, s.slot)
          let job = r.count == 1 ? r.optionalInt64(0, 0) : nil
          results.append(SlotResult(schedule: s.schedule, slot: s.slot, job: job, fresh: false))
          continue
        }
        var id: JobID?
        if let job = s.job {
          try Self.refuseNUL([job])
          id = try enqueueResults([job], try db.exec(insertStatement([job])))[0].id
          if job.runAt <= job.now { try notify(types: [job.type]) }
          try db.exec(
            "UPDATE drover_schedule_slots SET job_id = $3 WHERE schedule = $1 AND slot = $2",
            s.schedule, s.slot, id)
        }
        results.append(SlotResult(schedule: s.schedule, slot: s.slot, job: id, fresh: true))
      }
      return results
    }
  }

  public func lastSlots() throws(StoreError) -> [String: LastSlot] {
    try ready()
    let r = try db.exec(
      """
      SELECT DISTINCT ON (schedule) schedule, slot, job_id FROM drover_schedule_slots
      ORDER BY schedule, slot DESC
      """)
    var out: [String: LastSlot] = [:]
    for i in 0..<r.count {
      out[r.text(i, 0)] = LastSlot(
        slot: Timestamp(micros: r.int64(i, 1)), job: r.optionalInt64(i, 2))
    }
    return out
  }

  public func setSchedulePaused(_ name: String, _ paused: Bool) throws(StoreError) {
    try requireWritable()
    try ready()
    try db.exec(
      """
      INSERT INTO drover_schedule_state (schedule, paused) VALUES ($1, $2)
      ON CONFLICT (schedule) DO UPDATE SET paused = excluded.paused
      """, name, paused)
  }

  public func pausedSchedules() throws(StoreError) -> Set<String> {
    try ready()
    let r = try db.exec("SELECT schedule FROM drover_schedule_state WHERE paused")
    return Set((0..<r.count).map { r.text($0, 0) })
  }
}
