package store

// PurgeLockID exposes the purge's advisory lock key to the tests, which
// hold it as another replica would.
const PurgeLockID = purgeLockID
