// Package hlr is the home location register (domain.md §2): the durable
// subscribers, kept in SQLite, and the in-memory attachment registry that
// maps each attached MSISDN to its phone controller.
//
// What a subscriber is, and when and in what batches it is written, is
// this package's; the SQL is the store's (store.SubscriberRow and the
// Store's subscriber methods), which speaks in rows of plain values: an
// MSISDN is its digits there, packed into an MSISDN here.
//
// Attaching is the hot path (hundreds of thousands a second, a million
// attached phones), so what it touches is kept small and off the database:
// MSISDNs are packed into one word, a provisioned subscriber is found in an
// in-memory set without SQL, and the attach and detach times are written
// behind the caller's back by one batching writer.
package hlr
