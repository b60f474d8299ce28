// Package liveconfig keeps the configuration the admin API and UI manage
// — providers, routes, prices, the cache policy and alert rules — in the
// usage store (migration 0005), beneath the environment and the YAML
// file, and applies it live. A change is validated with the environment
// and the file by the server's own start-up code (Options.Check), written
// in one transaction, and swapped in whole on the replica that made it
// before it answers (Options.Apply); the other replicas follow by a Redis
// message or, failing that, by polling the stored version. Providers'
// keys are sealed with AES-GCM (Sealer). Every admin action goes to the
// audit log (Entry).
package liveconfig
