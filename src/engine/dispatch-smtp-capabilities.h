/* dispatch-smtp-capabilities.h — what a server offers, read from its EHLO reply; pure.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dispatch-smtp-reply.h"

G_BEGIN_DECLS

/* AUTH mechanisms kept from one EHLO reply; past these, only those the engine can use are
 * added. Real servers list a few. */
#define DISPATCH_SMTP_CAPABILITIES_MAX_AUTH_MECHANISMS 64

typedef enum
{
  DISPATCH_SMTP_CAPABILITY_NONE                = 0,
  DISPATCH_SMTP_CAPABILITY_STARTTLS            = 1 << 0,  /* RFC 3207 */
  DISPATCH_SMTP_CAPABILITY_AUTH                = 1 << 1,  /* RFC 4954, also legacy "AUTH=" */
  DISPATCH_SMTP_CAPABILITY_SIZE                = 1 << 2,  /* RFC 1870 */
  DISPATCH_SMTP_CAPABILITY_PIPELINING          = 1 << 3,  /* RFC 2920 */
  DISPATCH_SMTP_CAPABILITY_CHUNKING            = 1 << 4,  /* RFC 3030 */
  DISPATCH_SMTP_CAPABILITY_8BITMIME            = 1 << 5,  /* RFC 6152 */
  DISPATCH_SMTP_CAPABILITY_SMTPUTF8            = 1 << 6,  /* RFC 6531 */
  DISPATCH_SMTP_CAPABILITY_ENHANCEDSTATUSCODES = 1 << 7,  /* RFC 2034 */
  DISPATCH_SMTP_CAPABILITY_DSN                 = 1 << 8,  /* RFC 3461 */
  DISPATCH_SMTP_CAPABILITY_BINARYMIME          = 1 << 9,  /* RFC 3030 */
} DispatchSmtpCapabilityFlags;

#define DISPATCH_TYPE_SMTP_CAPABILITIES (dispatch_smtp_capabilities_get_type ())

typedef struct _DispatchSmtpCapabilities DispatchSmtpCapabilities;

GType                      dispatch_smtp_capabilities_get_type   (void) G_GNUC_CONST;

/* From a 250 reply to EHLO: the first line is the server's greeting domain, each further line
 * one keyword with its parameters. Keywords are case-insensitive; unknown ones are ignored. */
DispatchSmtpCapabilities  *dispatch_smtp_capabilities_new_from_ehlo (const DispatchSmtpReply *reply);
/* What a server that only answered HELO offers: nothing. */
DispatchSmtpCapabilities  *dispatch_smtp_capabilities_new_empty  (void);

DispatchSmtpCapabilities  *dispatch_smtp_capabilities_copy       (const DispatchSmtpCapabilities *caps);
void                       dispatch_smtp_capabilities_free       (DispatchSmtpCapabilities *caps);

DispatchSmtpCapabilityFlags dispatch_smtp_capabilities_get_flags (const DispatchSmtpCapabilities *caps);
gboolean                   dispatch_smtp_capabilities_has        (const DispatchSmtpCapabilities *caps,
                                                                  DispatchSmtpCapabilityFlags     flag);

/* The SIZE limit in octets; 0 when SIZE is not offered or offered without a number (no limit). */
guint64                    dispatch_smtp_capabilities_get_max_size (const DispatchSmtpCapabilities *caps);

/* Advertised SASL mechanisms, upper-cased, in the server's order, without duplicates;
 * NULL-terminated, never NULL. Union of "AUTH a b" and legacy "AUTH=a b" lines. */
const char * const        *dispatch_smtp_capabilities_get_auth_mechanisms (const DispatchSmtpCapabilities *caps);
gboolean                   dispatch_smtp_capabilities_has_auth_mechanism  (const DispatchSmtpCapabilities *caps,
                                                                           const char                     *mechanism);

/* The domain on the first line of the EHLO reply, or NULL. */
const char                *dispatch_smtp_capabilities_get_domain (const DispatchSmtpCapabilities *caps);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DispatchSmtpCapabilities, dispatch_smtp_capabilities_free)

G_END_DECLS
