/* SPDX-License-Identifier: GPL-2.0 */
/* An intrusive FIFO with removal from anywhere, in O(1): a struct holds
 * a struct xlb_qnode and is queued and taken out without allocation
 * (xlb_container_of, loop.h, finds it from its node). */
#ifndef XLB_QUEUE_H
#define XLB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

struct xlb_qnode {
	struct xlb_qnode *prev, *next;
	bool queued;
};

struct xlb_queue {
	struct xlb_qnode *head, *tail;
	size_t n;
};

static inline void xlb_queue_push(struct xlb_queue *q, struct xlb_qnode *e)
{
	if (e->queued)
		return;
	e->prev = q->tail;
	e->next = NULL;
	if (q->tail)
		q->tail->next = e;
	else
		q->head = e;
	q->tail = e;
	e->queued = true;
	q->n++;
}

/* Takes e out if it is queued; harmless otherwise. */
static inline void xlb_queue_remove(struct xlb_queue *q, struct xlb_qnode *e)
{
	if (!e->queued)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		q->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		q->tail = e->prev;
	e->prev = e->next = NULL;
	e->queued = false;
	q->n--;
}

#endif
