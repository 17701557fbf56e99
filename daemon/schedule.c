/* Scheduling decisions as pure functions. */
#include "daemon/schedule.h"

uint64_t schedule_renew_at(int64_t not_before, int64_t not_after, uint64_t renew_before_usec,
                           unsigned percent) {
    if (not_after <= 0)
        return 0;
    uint64_t end = (uint64_t)not_after * USEC_PER_SEC;
    uint64_t lifetime = not_after > not_before ? (uint64_t)(not_after - not_before) * USEC_PER_SEC : 0;
    uint64_t window = lifetime / 100 * percent;
    if (renew_before_usec < window)
        window = renew_before_usec;
    return end > window ? end - window : 0;
}

uint64_t schedule_backoff(unsigned attempts, uint64_t min_usec, uint64_t max_usec, double rnd) {
    if (attempts == 0)
        return 0;
    uint64_t ceiling = min_usec;
    for (unsigned i = 1; i < attempts && ceiling < max_usec; i++)
        ceiling *= 2;
    if (ceiling > max_usec)
        ceiling = max_usec;
    /* Full jitter, but never less than half the minimum: a failing server is not hammered. */
    uint64_t floor = min_usec / 2;
    if (ceiling <= floor)
        return floor;
    return floor + (uint64_t)((double)(ceiling - floor) * rnd);
}

uint64_t schedule_splay(uint64_t splay_usec, double rnd) {
    return (uint64_t)((double)splay_usec * rnd);
}

uint64_t schedule_next_due(const Request *r, const Config *c, const Profile *p) {
    switch (r->state) {
    case STATE_MONITORING: {
        if (r->retired_key_ref)
            return r->next_action; /* the old key of a finished renewal is still to go */
        uint64_t before = p && p->renew_before_usec ? p->renew_before_usec : c->renew_before_usec;
        uint64_t renew = schedule_renew_at(r->not_before, r->not_after, before, c->renew_percent);
        return r->next_action > renew ? r->next_action : renew;
    }
    case STATE_CA_REJECTED:
    case STATE_NEED_CREDENTIALS:
        return UINT64_MAX;
    default:
        return r->next_action;
    }
}
