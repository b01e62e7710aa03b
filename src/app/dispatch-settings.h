/* dispatch-settings.h — the account as GSettings keeps it, turned into engine objects.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "dispatch-engine.h"

G_BEGIN_DECLS

/* The development build shares its settings with the stable one. */
#define DISPATCH_SCHEMA_ID "io.github.dispatchmail.Dispatch"

GSettings       *dispatch_settings_new                (void);

/* A fresh account from the settings, with the pinned certificate of its host and port. */
DispatchAccount *dispatch_settings_create_account     (GSettings   *settings);

/* The sender's address: the configured one, else the user name when it is an address, else
 * the login name at localhost (which a local test server accepts). */
char            *dispatch_settings_dup_sender_address (GSettings   *settings);
/* "Ann Example <ann@example.org>", ready for the From field. */
char            *dispatch_settings_dup_sender         (GSettings   *settings);
/* "smtp.example.org:587 · STARTTLS", for people. */
char            *dispatch_settings_dup_server_label   (GSettings   *settings);

/* Whether the person has chosen an account: a provider, a server or a user name of their own,
 * or the local test server on purpose. Until then the window shows how to set one up. */
gboolean         dispatch_settings_is_account_set_up  (GSettings   *settings);

/* Pinned certificates, keyed by host and port. */
char            *dispatch_settings_dup_pin            (GSettings   *settings,
                                                       const char  *host,
                                                       guint        port);
void             dispatch_settings_set_pin            (GSettings   *settings,
                                                       const char  *host,
                                                       guint        port,
                                                       const char  *sha256_hex);

G_END_DECLS
