import GRDB

/// The store's schema, built by migrations (never edit a registered migration; add a new one).
enum Schema {
  /// `PRAGMA application_id` of TailSweep stores ("TSWP").
  static let applicationID: Int32 = 0x5453_5750

  static var migrator: DatabaseMigrator {
    var m = DatabaseMigrator()
    m.registerMigration("v1") { db in
      try db.execute(sql: "PRAGMA application_id = \(applicationID)")
      try db.execute(
        sql: """
          CREATE TABLE sweeps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL,
            path TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
          );
          CREATE TABLE sweep_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
            started_at TEXT NOT NULL,
            text TEXT NOT NULL,
            trial_count INTEGER NOT NULL,
            new_trials INTEGER NOT NULL,
            tool_version TEXT NOT NULL,
            git_commit TEXT,
            host TEXT NOT NULL,
            dataset_hashes TEXT NOT NULL,
            blas TEXT NOT NULL
          );
          CREATE INDEX sweep_runs_sweep ON sweep_runs(sweep_id);
          CREATE TABLE trials (
            id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 64),
            config TEXT NOT NULL,
            state TEXT NOT NULL
              CHECK (state IN ('pending', 'running', 'done', 'diverged', 'failed')),
            last_error TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            dataset TEXT NOT NULL,
            width INTEGER NOT NULL,
            depth INTEGER NOT NULL,
            eta REAL NOT NULL,
            batch_size INTEGER NOT NULL,
            alpha REAL NOT NULL,
            sigma REAL NOT NULL,
            noise_type INTEGER NOT NULL,
            budget REAL NOT NULL,
            seed
          );
          CREATE INDEX trials_state ON trials(state);
          CREATE TABLE sweep_trials (
            sweep_id INTEGER NOT NULL REFERENCES sweeps(id),
            trial_id TEXT NOT NULL REFERENCES trials(id),
            position INTEGER NOT NULL,
            relative_cost REAL NOT NULL,
            PRIMARY KEY (sweep_id, trial_id)
          ) WITHOUT ROWID;
          CREATE INDEX sweep_trials_trial ON sweep_trials(trial_id);
          CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trial_id TEXT NOT NULL REFERENCES trials(id),
            attempt INTEGER NOT NULL,
            worker TEXT NOT NULL,
            host TEXT NOT NULL,
            leased INTEGER NOT NULL CHECK (leased IN (0, 1)),
            started_at TEXT,
            ended_at TEXT,
            outcome TEXT CHECK (outcome IS NULL OR outcome IN
              ('committed', 'duplicate', 'failed', 'lost', 'timedOut', 'crashed')),
            error TEXT
          );
          CREATE INDEX attempts_trial ON attempts(trial_id, attempt);
          CREATE INDEX attempts_worker ON attempts(worker);
          CREATE TABLE results (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trial_id TEXT NOT NULL REFERENCES trials(id),
            attempt INTEGER NOT NULL,
            worker TEXT NOT NULL,
            committed_at TEXT NOT NULL,
            superseded_at TEXT,
            config TEXT NOT NULL,
            training TEXT NOT NULL,
            compression TEXT,
            dataset_hash TEXT,
            stop_reason TEXT NOT NULL,
            iterations INTEGER NOT NULL,
            diverged_at INTEGER,
            wall_seconds REAL NOT NULL,
            train_loss REAL,
            train_accuracy REAL,
            test_loss REAL,
            test_accuracy REAL,
            pruning_ratio REAL,
            unpruned_test_accuracy REAL,
            pruned_test_accuracy REAL,
            pruned_train_accuracy REAL
          );
          CREATE UNIQUE INDEX results_current ON results(trial_id) WHERE superseded_at IS NULL;
          """)
    }
    // Sweep identity: a sweep's name in its file (`family`), the version of its definition
    // under that name (`small`, `small@2`, …) and the hash of the definition (its trial ids).
    // Additive: rows of older stores become version 1 of their own name; their hash is filled
    // in from their linked trials when the sweep is next run.
    m.registerMigration("v2-sweep-identity") { db in
      try db.execute(
        sql: """
          ALTER TABLE sweeps ADD COLUMN family TEXT;
          ALTER TABLE sweeps ADD COLUMN version INTEGER;
          ALTER TABLE sweeps ADD COLUMN definition_hash TEXT;
          UPDATE sweeps SET family = name, version = 1;
          """)
    }
    // The latest progress of an open lease, as the coordinator last recorded it (at most about
    // once a second, inside its group commits): iteration, iteration cap, and when the worker
    // reported it. For `status` and the live view, which read the store only. Additive.
    m.registerMigration("v3-attempt-progress") { db in
      try db.execute(
        sql: """
          ALTER TABLE attempts ADD COLUMN iteration INTEGER;
          ALTER TABLE attempts ADD COLUMN max_iterations INTEGER;
          ALTER TABLE attempts ADD COLUMN progress_at TEXT;
          """)
    }
    // Worker liveness, display only: every worker the coordinator knows, with its host, slots,
    // when it registered, when the coordinator last heard from it (any message, heartbeats of
    // idle workers included) and its state. Written by the coordinator inside its group
    // commits, at most about once a second, one row per worker heard from since the last
    // recording; `status` and the live view read it. Additive: readers of older stores see
    // no rows.
    m.registerMigration("v4-workers") { db in
      try db.execute(
        sql: """
          CREATE TABLE workers (
            id TEXT PRIMARY KEY NOT NULL,
            host TEXT NOT NULL,
            slots INTEGER NOT NULL,
            registered_at TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('active', 'quarantined', 'gone'))
          ) WITHOUT ROWID;
          """)
    }
    return m
  }

  /// Whether the worker liveness table exists (a store migrated by this version or later).
  /// Asks SQLite each time rather than GRDB's schema cache: a reader that opened the store
  /// before a writer migrated it must see the table appear.
  static func hasWorkers(_ db: Database) throws -> Bool {
    try Bool.fetchOne(
      db,
      sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'workers')"
    ) ?? false
  }

  /// Whether attempts carry progress columns (a store migrated by this version or later).
  static func hasAttemptProgress(_ db: Database) throws -> Bool {
    try hasColumn(db, table: "attempts", column: "progress_at")
  }

  /// Whether the sweep-identity columns exist (a store migrated by this version or later; a
  /// read-only open does not migrate older stores).
  static func hasSweepIdentity(_ db: Database) throws -> Bool {
    try hasColumn(db, table: "sweeps", column: "definition_hash")
  }

  /// Asks SQLite, not GRDB's schema cache (which a reader keeps after a writer migrated).
  static func hasColumn(_ db: Database, table: String, column: String) throws -> Bool {
    try Bool.fetchOne(
      db, sql: "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?) WHERE name = ?)",
      arguments: [table, column]) ?? false
  }
}
