/* SPDX-License-Identifier: GPL-2.0 */
/* Attaching xlb's programs to interfaces, and taking them off again. */
#ifndef XLB_ATTACH_H
#define XLB_ATTACH_H

/* Detaches every program xlb attached (XDP links, tc filters, prepared
 * veth peers, as recorded in the pinned xlb_ifaces map) and removes the
 * pin directory. Safe to run when nothing is attached. Returns 0 or
 * -errno of the first failure (it keeps going after one). */
int xlb_teardown(const char *pin_dir);

#endif
