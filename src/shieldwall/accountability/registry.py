"""The curated starting registry: companies, their services, and the names sources print.

Only names a person checked are here. Every alias is an exact printed name (compared after
:func:`~shieldwall.accountability.schemas.name_key`); a name that is not listed stays
unmapped and is shown on the tracker's "unmapped names" list for someone to resolve with an
alias row, never matched by similarity. Corporate facts used (ownership, renames) are
public and noted where they are not obvious.
"""

from __future__ import annotations

from shieldwall.accountability.schemas import AliasRec, Batch, CompanyRec, ServiceRec

DATASET = "registry"

#: slug, name, note, [(service slug, service name)]
COMPANIES: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "meta",
        "Meta",
        "Formerly Facebook, Inc. (renamed October 2021).",
        (
            ("facebook", "Facebook"),
            ("instagram", "Instagram"),
            ("whatsapp", "WhatsApp"),
            ("threads", "Threads"),
            ("oculus", "Oculus"),
        ),
    ),
    ("google", "Google (Alphabet)", "", (("google-services", "Google"), ("youtube", "YouTube"))),
    (
        "microsoft",
        "Microsoft",
        "Microsoft's Digital Safety Content Report covers its consumer services and excludes "
        "LinkedIn and GitHub, which publish their own reports.",
        (
            (
                "microsoft-consumer",
                "Microsoft consumer services (OneDrive, Outlook, Skype, Xbox, Bing)",
            ),
            ("linkedin", "LinkedIn"),
            ("github", "GitHub"),
        ),
    ),
    ("x", "X (formerly Twitter)", "Twitter, Inc. became X Corp in 2023.", ()),
    ("snap", "Snap", "", (("snapchat", "Snapchat"),)),
    ("roblox", "Roblox", "", ()),
    ("adobe", "Adobe", "", ()),
    (
        "amazon",
        "Amazon",
        "Amazon's yearly CSAM disclosure includes Twitch.",
        (
            ("twitch", "Twitch"),
            ("amazon-photos", "Amazon Photos"),
            ("amazon-games", "Amazon Games"),
        ),
    ),
    ("apple", "Apple", "", ()),
    ("cloudflare", "Cloudflare", "", ()),
    ("dropbox", "Dropbox", "", ()),
    ("flickr", "Flickr (SmugMug)", "", ()),
    ("godaddy", "GoDaddy", "", ()),
    ("paypal", "PayPal", "", ()),
    (
        "yahoo",
        "Yahoo (formerly Verizon Media)",
        "Verizon Media was sold to Apollo and renamed Yahoo in September 2021.",
        (),
    ),
    ("vsco", "VSCO (Visual Supply Company)", "", ()),
    ("wattpad", "Wattpad", "", ()),
    ("yubo", "Yubo", "", ()),
    ("discord", "Discord", "", ()),
    ("mega", "MEGA", "", ()),
    ("pinterest", "Pinterest", "", ()),
    ("tiktok", "TikTok", "", ()),
    ("giphy", "GIPHY", "", ()),
    ("grindr", "Grindr", "", ()),
    (
        "match-group",
        "Match Group",
        "",
        (("tinder", "Tinder"), ("hinge", "Hinge"), ("okcupid", "OkCupid")),
    ),
    ("openai", "OpenAI", "", ()),
    ("patreon", "Patreon", "", ()),
    ("sony-interactive", "Sony Interactive Entertainment", "", ()),
    ("automattic", "Automattic", "", (("tumblr", "Tumblr"), ("wordpress-com", "WordPress.com"))),
    (
        "aylo",
        "Aylo (formerly MindGeek)",
        "MindGeek was renamed Aylo in August 2023.",
        (
            ("pornhub", "Pornhub"),
            ("redtube", "Redtube"),
            ("tube8", "Tube8"),
            ("youporn", "YouPorn"),
            ("mydirtyhobby", "MyDirtyHobby"),
        ),
    ),
    ("omegle", "Omegle", "Shut down in November 2023.", ()),
    ("quora", "Quora", "", ()),
    ("reddit", "Reddit", "", ()),
    ("telegram", "Telegram", "", ()),
    ("wikimedia", "Wikimedia Foundation", "", ()),
)

#: printed name, company slug, service slug or None, combined, note
ALIASES: tuple[tuple[str, str, str | None, bool, str], ...] = (
    # commitments and diaphanous platform names
    ("Facebook", "meta", "facebook", False, ""),
    ("Meta", "meta", None, False, ""),
    ("Instagram", "meta", "instagram", False, ""),
    ("Instagram, Inc.", "meta", "instagram", False, ""),
    ("WhatsApp", "meta", "whatsapp", False, ""),
    ("WhatsApp Inc.", "meta", "whatsapp", False, ""),
    ("Threads", "meta", "threads", False, "Meta brand"),
    ("Oculus", "meta", "oculus", False, "Meta brand"),
    ("Google", "google", None, True, "NCMEC's Google line includes YouTube"),
    ("Alphabet", "google", None, False, ""),
    ("YouTube", "google", "youtube", False, ""),
    ("Microsoft", "microsoft", "microsoft-consumer", False, ""),
    ("Microsoft - Xbox", "microsoft", "microsoft-consumer", False, "Xbox is a consumer service"),
    ("Microsoft - Online Operations", "microsoft", "microsoft-consumer", False, ""),
    ("Microsoft- other products", "microsoft", "microsoft-consumer", False, ""),
    ("LinkedIn", "microsoft", "linkedin", False, ""),
    ("LinkedIn Corporation", "microsoft", "linkedin", False, ""),
    ("GitHub", "microsoft", "github", False, ""),
    ("Twitter", "x", None, False, ""),
    ("Twitter, Inc.", "x", None, False, ""),
    ("Twitter, Inc. / Vine.co", "x", None, True, "Twitter and Vine combined"),
    ("X", "x", None, False, ""),
    ("X Corp", "x", None, False, ""),
    ("Snap", "snap", None, False, ""),
    ("Snapchat", "snap", "snapchat", False, ""),
    ("Roblox", "roblox", None, False, ""),
    ("Adobe", "adobe", None, False, ""),
    ("Adobe Systems Incorporated", "adobe", None, False, ""),
    ("Amazon", "amazon", None, False, ""),
    ("Amazon / Twitch", "amazon", None, True, "Amazon and Twitch combined"),
    ("Amazon Games", "amazon", "amazon-games", False, ""),
    ("Amazon Photos", "amazon", "amazon-photos", False, ""),
    ("Twitch", "amazon", "twitch", False, ""),
    ("Twitch Interactive, Inc.", "amazon", "twitch", False, ""),
    ("Apple", "apple", None, False, ""),
    ("Apple Inc", "apple", None, False, ""),
    ("Cloudflare", "cloudflare", None, False, ""),
    ("Cloudflare, Inc", "cloudflare", None, False, ""),
    ("Cloudflare, Inc.", "cloudflare", None, False, ""),
    ("Dropbox", "dropbox", None, False, ""),
    ("Dropbox, Inc.", "dropbox", None, False, ""),
    ("Flickr", "flickr", None, False, ""),
    ("SmugMug-Flickr", "flickr", None, False, ""),
    ("GoDaddy", "godaddy", None, False, ""),
    ("GoDaddy.com/Wild West Domains", "godaddy", None, False, ""),
    ("PayPal", "paypal", None, False, ""),
    ("PayPal Inc.", "paypal", None, False, ""),
    ("Verizon Media", "yahoo", None, False, ""),
    ("Yahoo!", "yahoo", None, False, ""),
    ("Yahoo! Inc", "yahoo", None, False, ""),
    ("VSCO", "vsco", None, False, ""),
    ("Visual Supply Company", "vsco", None, False, ""),
    ("Visual Supply Company (VSCO)", "vsco", None, False, ""),
    ("Wattpad", "wattpad", None, False, ""),
    ("Yubo", "yubo", None, False, ""),
    ("Discord", "discord", None, False, ""),
    ("Discord Inc.", "discord", None, False, ""),
    ("MEGA", "mega", None, False, ""),
    ("Pinterest", "pinterest", None, False, ""),
    ("Pinterest Inc.", "pinterest", None, False, ""),
    ("TikTok", "tiktok", None, False, ""),
    ("TikTok Inc.", "tiktok", None, False, ""),
    ("GIPHY", "giphy", None, False, ""),
    ("Giphy, Inc.", "giphy", None, False, ""),
    ("Giphy.com", "giphy", None, False, ""),
    ("Grindr", "grindr", None, False, ""),
    ("Match Group", "match-group", None, False, ""),
    ("Match Group, LLC", "match-group", None, False, ""),
    ("Tinder", "match-group", "tinder", False, ""),
    ("Tinder, Inc.", "match-group", "tinder", False, ""),
    ("Hinge.co", "match-group", "hinge", False, ""),
    ("Okcupid", "match-group", "okcupid", False, ""),
    ("Okcupid.com - Humor Rainbow, Inc.", "match-group", "okcupid", False, ""),
    ("OpenAI", "openai", None, False, ""),
    ("Patreon", "patreon", None, False, ""),
    ("Sony Interactive Entertainment", "sony-interactive", None, False, ""),
    ("Automattic", "automattic", None, False, ""),
    ("Tumblr", "automattic", "tumblr", False, ""),
    ("Wordpress", "automattic", "wordpress-com", False, ""),
    ("WordPress.com (Automattic)", "automattic", "wordpress-com", False, ""),
    ("WordPress.com/Automattic", "automattic", "wordpress-com", False, ""),
    ("Aylo", "aylo", None, False, ""),
    ("MindGeek", "aylo", None, False, ""),
    ("Pornhub", "aylo", "pornhub", False, ""),
    ("MG Freesites", "aylo", None, False, ""),
    ("MG Freesites (Pornhub)", "aylo", "pornhub", False, ""),
    ("MG Freesites (Redtube)", "aylo", "redtube", False, ""),
    ("MG Freesites (Tube8)", "aylo", "tube8", False, ""),
    ("MG Freesites (Youporn)", "aylo", "youporn", False, ""),
    ("MG Freesites Ltd", "aylo", None, False, ""),
    ("MG Freesites Ltd (dba Pornhub)", "aylo", "pornhub", False, ""),
    ("MG Freesites Ltd (dba Redtube)", "aylo", "redtube", False, ""),
    ("MG Freesites Ltd (dba Tube8)", "aylo", "tube8", False, ""),
    ("MG Freesites Ltd (dba Youporn)", "aylo", "youporn", False, ""),
    ("Aylo Freesites Ltd (dba Pornhub)", "aylo", "pornhub", False, ""),
    ("Aylo Freesites Ltd (dba Tube8)", "aylo", "tube8", False, ""),
    ("Aylo Freesites Ltd (dba Youporn)", "aylo", "youporn", False, ""),
    ("Aylo Social Ltd (dba MyDirtyHobby)", "aylo", "mydirtyhobby", False, ""),
    # NCMEC's starred lines: "report totals for related platforms and companies have been
    # combined" (2019-2020)
    ("Facebook*", "meta", None, True, "Facebook, Instagram and WhatsApp combined"),
    ("Google*", "google", None, True, ""),
    ("Microsoft*", "microsoft", "microsoft-consumer", True, "LinkedIn and GitHub listed apart"),
    ("TikTok*", "tiktok", None, True, ""),
    ("Automattic*", "automattic", None, True, "Tumblr and WordPress.com combined"),
    ("MindGeek*", "aylo", None, True, "Pornhub and sibling sites combined"),
    ("Match Group*", "match-group", None, True, ""),
    ("Match Group, LLC*", "match-group", None, True, ""),
    ("Omegle", "omegle", None, False, ""),
    ("Omegle.com LLC", "omegle", None, False, ""),
    ("Quora", "quora", None, False, ""),
    ("Reddit", "reddit", None, False, ""),
    ("Reddit, Inc.", "reddit", None, False, ""),
    ("Telegram", "telegram", None, False, ""),
    ("Wikimedia", "wikimedia", None, False, ""),
    ("Wikimedia Foundation", "wikimedia", None, False, ""),
    ("Wikimedia Foundation Inc.", "wikimedia", None, False, ""),
)


def registry_batch() -> Batch:
    """The registry as a batch (stored like any imported file, dataset ``registry``)."""
    batch = Batch(dataset=DATASET, sha256="")
    for slug, name, note, services in COMPANIES:
        batch.companies.append(CompanyRec(slug=slug, name=name, note=note))
        for service_slug, service_name in services:
            batch.services.append(ServiceRec(company=slug, slug=service_slug, name=service_name))
    for name, company, service, combined, note in ALIASES:
        batch.aliases.append(
            AliasRec(name=name, company=company, service=service, combined=combined, note=note)
        )
    return batch
