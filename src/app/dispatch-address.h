/* dispatch-address.h — check address lists as they are typed, to explain what is wrong at once.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Checks a comma-separated list of mailboxes ("Ann <ann@example.org>, bob@example.org").
 * Empty items are skipped, so a trailing comma while typing is fine. Returns TRUE when every
 * address looks usable and sets @n_addresses; otherwise FALSE with @reason set to a translated
 * sentence naming the first bad address. The engine still has the last word when it builds the
 * message; this only spares the user a round trip. */
gboolean dispatch_address_list_check (const char  *text,
                                      guint       *n_addresses,
                                      char       **reason);

G_END_DECLS
