"""ISO 4217 currency codes: the three letters a ``currency`` column format accepts.

The full List One of the ISO 4217 maintenance agency (SIX), as current in 2026: national
currencies, fund codes (``BOV``, ``CHE``, ``USN``...), precious metals and the special
codes (``XAD``, ``XDR``, ``XTS``, ``XXX``). Withdrawn codes (``HRK``, ``ZWL``, ``BGN``
since Bulgaria's euro in 2026, ``ANG`` since ``XCG`` replaced it) are not accepted. A
committed list rather than a run-time dependency: it changes about once a year, and the
check must give the same answer on every machine; tests compare it with pycountry's.
"""

from __future__ import annotations

ISO_4217 = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL
    BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK
    DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR
    ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD
    LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
    USN UYI UYU UYW UZS VED VES VND VUV WST XAD XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF
    XPD XPF XPT XSU XTS XUA XXX YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 -- a block of codes reads and diffs better than 178 strings
)

#: Symbols shown before the amount instead of the code, for the currencies whose symbol
#: no reader mistakes; every other currency shows its code (``SEK 1,234.50``).
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
