import DroverCore

extension SQLiteStore {
  static let slotLookupSQL: SQLText =
    "SELECT job_id FROM schedule_slots WHERE schedule = ?1 AND slot = ?2"
  static let slotInsertSQL: SQLText =
    "INSERT INTO schedule_slots (schedule, slot, job_id, recorded_at) VALUES (?1, ?2, ?3, ?4)"

  static let lastSlotsSQL: SQLText = """
    SELECT schedule, slot, job_id FROM schedule_slots AS s
    WHERE slot = (SELECT max(slot) FROM schedule_slots WHERE schedule = s.schedule)
    """

  public func fireSlots(_ slots: [SlotFire]) throws(StoreError) -> [SlotResult] {
    try requireWritable()
    for (i, s) in slots.enumerated() {
      try s.job?.validate(index: i, of: slots.count, maxPayload: maxPayload)
    }
    if slots.isEmpty { return [] }
    let now = Timestamp.now()
    return try write { () throws(StoreError) in
      var results: [SlotResult] = []
      for s in slots {
        // A row with a NULL job_id was passed over: `int64` cannot tell it from no row.
        let st = try db.prepare(Self.slotLookupSQL)
        try st.bind(s.schedule, s.slot)
        let recorded = try st.step()
        let earlier = recorded ? st.optionalInt64(0) : nil
        st.reset()
        if recorded {
          results.append(SlotResult(schedule: s.schedule, slot: s.slot, job: earlier, fresh: false))
          continue
        }
        var id: JobID?
        if let job = s.job { id = try insert([job]).results[0].id }
        try db.run(Self.slotInsertSQL, s.schedule, s.slot, id, now)
        results.append(SlotResult(schedule: s.schedule, slot: s.slot, job: id, fresh: true))
      }
      return results
    }
  }

  public func lastSlots() throws(StoreError) -> [String: LastSlot] {
    try db.transaction(write: false) { () throws(StoreError) in
      var out: [String: LastSlot] = [:]
      let st = try db.prepare(Self.lastSlotsSQL)
      defer { st.reset() }
      while try st.step() {
        out[st.text(0)] = LastSlot(slot: Timestamp(micros: st.int64(1)), job: st.optionalInt64(2))
      }
      return out
    }
  }

  static let pauseSQL: SQLText = """
    INSERT INTO schedule_state (schedule, paused) VALUES (?1, ?2)
    ON CONFLICT (schedule) DO UPDATE SET paused = excluded.paused
    """

  public func setSchedulePaused(_ name: String, _ paused: Bool) throws(StoreError) {
    try write { () throws(StoreError) in
      _ = try db.run(Self.pauseSQL, name, paused ? Int64(1) : Int64(0))
    }
  }

  public func pausedSchedules() throws(StoreError) -> Set<String> {
    Set(try db.strings("SELECT schedule FROM schedule_state WHERE paused = 1"))
  }
}
