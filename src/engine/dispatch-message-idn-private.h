/* dispatch-message-idn-private.h — ASCII tests; the IDN form of an address, sparing libidn2.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gmime/gmime.h>

G_BEGIN_DECLS

/* Whether @text (@len octets, or up to its NUL when negative) is 7-bit. */
gboolean dispatch_message_is_ascii (const char *text,
                                    gssize      len);
/* Fills in GMime's IDN form of every address whose domain is ASCII. */
void     dispatch_message_seed_idn (InternetAddressList *list);

G_END_DECLS
