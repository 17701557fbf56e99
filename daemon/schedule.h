/* Scheduling decisions as pure functions of a request, the config and a clock,
 * so a simulated clock can drive them in tests. Times are CLOCK_REALTIME usec. */
#pragma once

#include <stdint.h>

#include "daemon/config.h"
#include "daemon/request.h"

#define USEC_PER_SEC 1000000ULL

/* When a certificate valid [not_before, not_after] (seconds) should be renewed:
 * not_after - min(renew_before, percent% of the lifetime). */
uint64_t schedule_renew_at(int64_t not_before, int64_t not_after, uint64_t renew_before_usec,
                           unsigned percent);

/* Delay before retry number `attempts` (1 = first retry): full jitter over an
 * exponentially growing window, capped. rnd is uniform in [0,1). */
uint64_t schedule_backoff(unsigned attempts, uint64_t min_usec, uint64_t max_usec, double rnd);

/* A random splay in [0, splay) for fleet-wide actions. */
uint64_t schedule_splay(uint64_t splay_usec, double rnd);

/* The next time the request needs the daemon, or UINT64_MAX for never
 * (rejected requests wait for a person; users without tickets for a login). */
uint64_t schedule_next_due(const Request *r, const Config *c, const Profile *p);
