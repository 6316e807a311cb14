/* The deterministic simulator runtime: N nodes in one process, virtual time, one seeded PRNG.
 *
 * Every source of nondeterminism (message delay, loss, duplication, the nodes' random numbers,
 * tie-breaks between simultaneous events) comes from one PRNG seeded with the run's seed, so a
 * seed replays exactly. Faults: drop, duplicate, delay (uniform, plus a heavy tail) which also
 * reorders, directed link cuts (so partitions may be non-transitive), crash (volatile state lost,
 * only what was synced survives), restart with a new incarnation, pause and resume (a paused node
 * processes nothing; what arrives meanwhile waits for it, like a SIGSTOPped process's socket).
 *
 * Ownership: the simulator owns its nodes; the config passed in must outlive the sim (the
 * simulator writes the nodes' public keys into it). */
#ifndef STRATA_RT_SIM_SIM_H
#define STRATA_RT_SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "core/node.h"

struct sim;

/* Builds a node's module stack (called at start and at every restart). */
typedef void (*sim_build_fn)(struct sim *s, struct strata_node *n, void *arg);
/* Observes every output of every node. */
typedef void (*sim_output_fn)(struct sim *s, uint32_t node, const struct strata_output *o,
			      void *arg);

struct sim_net {
	double drop;           /* probability a datagram is lost */
	double dup;            /* probability a datagram is delivered twice */
	uint64_t delay_min_us; /* uniform delay in [min, max] */
	uint64_t delay_max_us;
	double tail;           /* probability of an extra delay of up to tail_us */
	uint64_t tail_us;
	/* Adversarial network (for authenticated links): */
	double corrupt;        /* probability of also delivering a copy with one bit flipped */
	double replay;         /* probability of also re-delivering an earlier datagram later */
};

/* Stable storage faults and timing, per simulation (every node's disk behaves alike).
 * All zero: a sync is instantaneous and never fails, and a crash loses every unsynced write. */
struct sim_disk {
	/* Sync latency, uniform in [min, max]. max > 0 makes syncs asynchronous
	 * (env.sync_async): the node keeps reading and processing inputs while a sync runs, and
	 * the datagrams and outputs of the batches it covers are held until it completes. Batches
	 * staged meanwhile are synced together when it completes (group commit). */
	uint64_t sync_min_us, sync_max_us;
	double sync_fail; /* probability a sync fails: the node stops (strata_node_failed) */
	uint64_t fail_sync_nr; /* if > 0, the sync with this number (1 = the run's first) fails */
	/* On a crash, probability that the unsynced writes were partly on their way to the disk:
	 * a random prefix of them (in write order) survives and the write after it is torn. A torn
	 * record fails its checksum at recovery and is discarded with everything after it, as a
	 * log-structured store does; otherwise every unsynced write is lost. */
	double torn;
	/* BROKEN VARIANT ONLY: the runtime claims every sync is durable at once (releasing replies
	 * and sends) while the writes reach the disk only after the sync latency; a crash meanwhile
	 * loses acknowledged state. Storage suites must catch it. */
	bool ack_before_sync;
};

struct sim_opts {
	uint64_t seed;
	struct strata_config *cfg; /* n, model, timers...; public keys are filled in */
	struct sim_net net;
	sim_build_fn build;
	sim_output_fn output;
	void *arg;
	bool trace; /* print every node's trace lines to stderr */
	struct sim_disk disk;
	/* Threshold coin shares, [id - 1] for node id (each node's strata_node_coin_share), or
	 * NULL; the caller deals them (cons/tcoin.h), sets cfg's coin keys and threshold, and keeps
	 * the array alive while the simulation runs. */
	const uint8_t (*coin_shares)[32];
	/* Nodes nobody takes deliveries from (bit id - 1 for node id): there
	 * strata_env.deliveries_wanted says no, as a daemon with no subscriber does, so a module
	 * that asks (the KV's watch events) builds none; outputs still reach `output`. 0: with an
	 * output callback every node's deliveries are wanted. */
	uint64_t unwatched;
};

struct sim *sim_new(const struct sim_opts *o);
/* Names nodes 1..n of cfg: id i, host 127.0.0.1, port port_base + i. The simulator opens no
 * socket; the addresses only identify the nodes in the config and its checks. */
void sim_config_loopback(struct strata_config *cfg, uint32_t n, uint16_t port_base);
void sim_free(struct sim *s);

/* Starts every node (INIT). */
void sim_start(struct sim *s);
/* Runs the next event; false if nothing is scheduled. */
bool sim_step(struct sim *s);
/* Runs every event up to time t (virtual us); the clock is then t. `check`, if given, runs after
 * every step and stops the run when it returns nonzero (that value is returned). */
typedef int (*sim_check_fn)(struct sim *s, void *arg);
int sim_run_until(struct sim *s, uint64_t t_us, sim_check_fn check, void *arg);
int sim_run_for(struct sim *s, uint64_t dur_us, sim_check_fn check, void *arg);

uint64_t sim_now(const struct sim *s);
uint64_t sim_seed(const struct sim *s);
uint32_t sim_n(const struct sim *s);
/* Draws from the simulation's PRNG (for test drivers: which node, which value...). */
uint64_t sim_random(struct sim *s);
uint64_t sim_random_below(struct sim *s, uint64_t bound);
double sim_random_unit(struct sim *s);

/* The live node with this id, or NULL if crashed. */
struct strata_node *sim_node(struct sim *s, uint32_t id);
bool sim_is_up(const struct sim *s, uint32_t id);
bool sim_is_paused(const struct sim *s, uint32_t id);

void sim_set_net(struct sim *s, const struct sim_net *net);
/* Changes the disk behaviour (latency applies to nodes booted from now on). */
void sim_set_disk(struct sim *s, const struct sim_disk *d);
void sim_crash(struct sim *s, uint32_t id);
/* Restarts a crashed node with a new incarnation; its modules get INIT with recovering = 1. */
void sim_restart(struct sim *s, uint32_t id);
void sim_pause(struct sim *s, uint32_t id);
void sim_resume(struct sim *s, uint32_t id);
/* Cuts or restores the directed link from -> to. */
void sim_link(struct sim *s, uint32_t from, uint32_t to, bool up);
/* Cuts every link between the two groups (bitmasks of node ids, bit i = node i). */
void sim_partition(struct sim *s, uint64_t group_a, uint64_t group_b);
/* Restores every link. */
void sim_heal(struct sim *s);

/* Client requests into a node (outcome through the output callback). */
void sim_request(struct sim *s, uint32_t id, const char *module, const struct strata_request *r);

/* Makes node id Byzantine with behaviour b from its next (re)start on; call before sim_start. */
void sim_set_byz(struct sim *s, uint32_t id, enum strata_byz b);
/* Starts a twin of node id: a second, correct copy of the same identity (same keys, same
 * incarnation) with its own state. Datagrams addressed to id reach both copies; each copy sends
 * on its own. Call after sim_start. */
void sim_twin(struct sim *s, uint32_t id);

/* Delivers raw bytes to node `to` after delay_us (forged or garbage datagrams). */
void sim_inject(struct sim *s, uint32_t to, const uint8_t *buf, size_t len, uint64_t delay_us);

/* Storage statistics, for tests: syncs that made writes durable, failed syncs, crashes that
 * tore a write; for the record log (the KV's log): crashes that tore a segment write (a prefix
 * of its bytes on the disk), recoveries that found and cut a torn tail, segments removed. */
struct sim_disk_stats {
	uint64_t syncs, sync_failures, torn_crashes, writes_lost;
	uint64_t wal_torn_writes, wal_torn_cuts, wal_segments_removed;
};
const struct sim_disk_stats *sim_disk_stats(const struct sim *s);
/* Writes of node id not yet durable (staged or being synced). */
size_t sim_unsynced(const struct sim *s, uint32_t id);
/* Durable value of key on node id (what a crash now would keep), for checkers. */
int sim_durable_get(struct sim *s, uint32_t id, const char *key, struct strata_msg **out);

/* Datagrams delivered / dropped so far, for tests. */
uint64_t sim_datagrams_sent(const struct sim *s);

#endif
