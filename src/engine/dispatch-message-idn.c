/* dispatch-message-idn.c — ASCII tests; the IDN form of an address, sparing libidn2 when it is ASCII.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "dispatch-message-idn-private.h"

gboolean
dispatch_message_is_ascii (const char *text,
                           gssize      len)
{
  for (gssize i = 0; len < 0 ? text[i] != '\0' : i < len; i++)
    if ((guchar) text[i] >= 0x80)
      return FALSE;

  return TRUE;
}

/* GMime's IDN form of an address (internet_address_mailbox_get_idn_addr(), which it also
 * writes into the headers) is the address itself when the domain is ASCII: libidn2 only
 * lowercases such a domain or refuses it, and GMime keeps the original in both cases. Filling
 * the form in here spares libidn2's Unicode normalisation and mapping tables — about 380 KiB
 * of libunistring a sender would otherwise touch for nothing. Non-ASCII domains are GMime's. */
void
dispatch_message_seed_idn (InternetAddressList *list)
{
  for (int i = 0; i < internet_address_list_length (list); i++)
    {
      InternetAddress *address = internet_address_list_get_address (list, i);
      InternetAddressMailbox *mailbox;

      if (INTERNET_ADDRESS_IS_GROUP (address))
        {
          dispatch_message_seed_idn (internet_address_group_get_members (INTERNET_ADDRESS_GROUP (address)));
          continue;
        }

      mailbox = INTERNET_ADDRESS_MAILBOX (address);
      if (mailbox->idn_addr == NULL && mailbox->at > 0 &&
          dispatch_message_is_ascii (mailbox->addr + mailbox->at + 1, -1))
        mailbox->idn_addr = g_strdup (mailbox->addr);
    }
}
