/* dispatch-setup-banner.h — the first start: what to do before the first message can go out.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define DISPATCH_TYPE_SETUP_BANNER (dispatch_setup_banner_get_type ())

G_DECLARE_FINAL_TYPE (DispatchSetupBanner, dispatch_setup_banner, DISPATCH, SETUP_BANNER, GtkWidget)

GtkWidget *dispatch_setup_banner_new                (void);

/* Where a local test server would be; by default the address of the default account. Setting
 * it looks again. */
void       dispatch_setup_banner_set_local_server   (DispatchSetupBanner *self,
                                                     const char          *host,
                                                     guint                port);
/* Whether the banner is shown: no account has been set up yet. */
gboolean   dispatch_setup_banner_get_revealed       (DispatchSetupBanner *self);
/* Whether a local test server answered and is offered. */
gboolean   dispatch_setup_banner_get_offers_local   (DispatchSetupBanner *self);

G_END_DECLS
