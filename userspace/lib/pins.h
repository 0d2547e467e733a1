/* SPDX-License-Identifier: GPL-2.0 */
/* The pin directory: where xlb's maps and XDP links live in bpffs. */
#ifndef XLB_PINS_H
#define XLB_PINS_H

#define XLB_DEFAULT_PIN_DIR "/sys/fs/bpf/xlb"
#define XLB_DEFAULT_CONTROL "/run/xlb/xlbd.sock"

/* Makes sure dir is a directory on a BPF filesystem, mounting one if none
 * is mounted (fresh machines often have none). Returns 0 or -errno. */
int xlb_pins_prepare(const char *dir);

/* Removes the pins of maps earlier versions made and this one does not
 * use. Returns how many were removed, or -errno. */
int xlb_pins_remove_obsolete(const char *dir);

/* Opens the pinned map dir/name read-write. Returns an fd or -errno. */
int xlb_pins_open_map(const char *dir, const char *name);

/* True when dir holds xlb's pinned maps. */
int xlb_pins_present(const char *dir);

#endif
