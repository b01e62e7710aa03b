/* dispatch-engine.h — the engine's public headers in one include.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dispatch-account.h"
#include "dispatch-engine-enums.h"
#include "dispatch-error.h"
#include "dispatch-message.h"
#include "dispatch-smtp-auth.h"
#include "dispatch-smtp-capabilities.h"
#include "dispatch-smtp-command.h"
#include "dispatch-smtp-reply.h"
#include "dispatch-smtp-session.h"

G_BEGIN_DECLS

/* Initialises GMime and gettext for the engine; idempotent, thread-safe. Call once from main()
 * before using the engine. */
void dispatch_engine_init (void);

G_END_DECLS
