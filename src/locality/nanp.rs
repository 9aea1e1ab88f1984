//! The North American Numbering Plan (country code 1): which state, province or
//! territory each geographic area code (NPA) serves.
//!
//! Built by hand from the public NANP assignments (NANPA and CNA area code
//! maps, as of 2025). The table is a sorted `const` array searched with a binary
//! search: no allocation, no regex, no lock, so it is cheap enough for any path
//! (unlike the `phonenumber` crate).
//!
//! An area code is listed once with the ISO 3166 alpha-2 country that numbers
//! in it belong to, and the USPS / Canada Post two-letter code of the state or
//! province. Area codes shared by several provinces (782 and 902 for Nova Scotia
//! and Prince Edward Island, 867 for the three territories) have no region code,
//! only a place name. Caribbean members of the plan have no region either: the
//! country says it all. US territories (PR, VI, GU, MP, AS) use their own
//! country code as both country and region, as USPS and ISO do.

/// One geographic area code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NanpArea {
    /// The area code, 200 to 999.
    pub(crate) npa: u16,
    /// ISO 3166 alpha-2 country (`US`, `CA`, `JM`, ...).
    pub(crate) country: &'static str,
    /// Two-letter state / province / territory code, or `""` when the area
    /// code spans several, or the country has no subdivisions in the plan.
    pub(crate) region: &'static str,
}

impl NanpArea {
    /// The state, province or country name, as Kazoo's `geocode.locality`
    /// shows it (`California`).
    pub(crate) fn place(&self) -> &'static str {
        if let Some(name) = lookup_name(SHARED_PLACES, self.npa) {
            return name;
        }
        if !self.region.is_empty() {
            if let Some(name) = region_name(self.region) {
                return name;
            }
        }
        lookup_str(COUNTRY_NAMES, self.country).unwrap_or(self.country)
    }
}

/// What an area code is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NpaKind {
    /// A geographic area code.
    Geographic(&'static NanpArea),
    /// 800, 833, 844, 855, 866, 877, 888: toll free, shared by the whole plan.
    TollFree,
    /// 900: premium rate.
    Premium,
    /// 5XX easily recognisable codes: personal communication services.
    Personal,
    /// 600 (Canadian services), 700, 710 (US government) and other
    /// non-geographic service codes.
    Service,
    /// Not assigned (or not known to this table).
    Unassigned,
}

/// Classifies an area code.
pub(crate) fn classify_npa(npa: u16) -> NpaKind {
    if let Some(area) = area(npa) {
        return NpaKind::Geographic(area);
    }
    match npa {
        800 | 833 | 844 | 855 | 866 | 877 | 888 => NpaKind::TollFree,
        900 => NpaKind::Premium,
        500 | 521..=533 | 544 | 566 | 577 | 588 => NpaKind::Personal,
        600 | 622 | 700 | 710 => NpaKind::Service,
        _ => NpaKind::Unassigned,
    }
}

/// The geographic area with this code.
pub(crate) fn area(npa: u16) -> Option<&'static NanpArea> {
    AREAS
        .binary_search_by_key(&npa, |a| a.npa)
        .ok()
        .and_then(|i| AREAS.get(i))
}

/// Every geographic area, sorted by area code.
pub(crate) fn areas() -> &'static [NanpArea] {
    AREAS
}

/// The area code of a NANP number (`+1NPANXXXXXX`), if it is one.
pub(crate) fn npa_of(e164: &str) -> Option<u16> {
    let b = e164.as_bytes();
    if b.len() != 12 || b.first() != Some(&b'+') || b.get(1) != Some(&b'1') {
        return None;
    }
    e164.get(2..5)?.parse().ok()
}

/// The name of a state, province or territory from its two-letter code.
pub(crate) fn region_name(code: &str) -> Option<&'static str> {
    lookup_str(REGION_NAMES, code)
}

fn lookup_str(table: &'static [(&'static str, &'static str)], key: &str) -> Option<&'static str> {
    table
        .binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, v)| *v)
}

fn lookup_name(table: &'static [(u16, &'static str)], key: u16) -> Option<&'static str> {
    table
        .binary_search_by_key(&key, |(k, _)| *k)
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, v)| *v)
}

const fn a(npa: u16, country: &'static str, region: &'static str) -> NanpArea {
    NanpArea {
        npa,
        country,
        region,
    }
}

/// Area codes that span several provinces or territories.
const SHARED_PLACES: &[(u16, &str)] = &[
    (782, "Nova Scotia and Prince Edward Island"),
    (867, "Yukon, Northwest Territories and Nunavut"),
    (902, "Nova Scotia and Prince Edward Island"),
];

/// Two-letter codes of US states (and DC and the territories) and Canadian
/// provinces and territories, sorted by code. `CA` is ambiguous (California
/// and Canada) only as a country; as a region it is California.
const REGION_NAMES: &[(&str, &str)] = &[
    ("AB", "Alberta"),
    ("AK", "Alaska"),
    ("AL", "Alabama"),
    ("AR", "Arkansas"),
    ("AS", "American Samoa"),
    ("AZ", "Arizona"),
    ("BC", "British Columbia"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DC", "District of Columbia"),
    ("DE", "Delaware"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("GU", "Guam"),
    ("HI", "Hawaii"),
    ("IA", "Iowa"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("MA", "Massachusetts"),
    ("MB", "Manitoba"),
    ("MD", "Maryland"),
    ("ME", "Maine"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MO", "Missouri"),
    ("MP", "Northern Mariana Islands"),
    ("MS", "Mississippi"),
    ("MT", "Montana"),
    ("NB", "New Brunswick"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("NE", "Nebraska"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NL", "Newfoundland and Labrador"),
    ("NM", "New Mexico"),
    ("NS", "Nova Scotia"),
    ("NT", "Northwest Territories"),
    ("NU", "Nunavut"),
    ("NV", "Nevada"),
    ("NY", "New York"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("ON", "Ontario"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("PE", "Prince Edward Island"),
    ("PR", "Puerto Rico"),
    ("QC", "Quebec"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("SK", "Saskatchewan"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VA", "Virginia"),
    ("VI", "U.S. Virgin Islands"),
    ("VT", "Vermont"),
    ("WA", "Washington"),
    ("WI", "Wisconsin"),
    ("WV", "West Virginia"),
    ("WY", "Wyoming"),
    ("YT", "Yukon"),
];

/// Countries of the plan, sorted by ISO code.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("AG", "Antigua and Barbuda"),
    ("AI", "Anguilla"),
    ("AS", "American Samoa"),
    ("BB", "Barbados"),
    ("BM", "Bermuda"),
    ("BS", "Bahamas"),
    ("CA", "Canada"),
    ("DM", "Dominica"),
    ("DO", "Dominican Republic"),
    ("GD", "Grenada"),
    ("GU", "Guam"),
    ("JM", "Jamaica"),
    ("KN", "Saint Kitts and Nevis"),
    ("KY", "Cayman Islands"),
    ("LC", "Saint Lucia"),
    ("MP", "Northern Mariana Islands"),
    ("MS", "Montserrat"),
    ("PR", "Puerto Rico"),
    ("SX", "Sint Maarten"),
    ("TC", "Turks and Caicos Islands"),
    ("TT", "Trinidad and Tobago"),
    ("US", "United States"),
    ("VC", "Saint Vincent and the Grenadines"),
    ("VG", "British Virgin Islands"),
    ("VI", "U.S. Virgin Islands"),
];

/// Every geographic area code of the plan, sorted by area code.
const AREAS: &[NanpArea] = &[
    a(201, "US", "NJ"),
    a(202, "US", "DC"),
    a(203, "US", "CT"),
    a(204, "CA", "MB"),
    a(205, "US", "AL"),
    a(206, "US", "WA"),
    a(207, "US", "ME"),
    a(208, "US", "ID"),
    a(209, "US", "CA"),
    a(210, "US", "TX"),
    a(212, "US", "NY"),
    a(213, "US", "CA"),
    a(214, "US", "TX"),
    a(215, "US", "PA"),
    a(216, "US", "OH"),
    a(217, "US", "IL"),
    a(218, "US", "MN"),
    a(219, "US", "IN"),
    a(220, "US", "OH"),
    a(223, "US", "PA"),
    a(224, "US", "IL"),
    a(225, "US", "LA"),
    a(226, "CA", "ON"),
    a(227, "US", "MD"),
    a(228, "US", "MS"),
    a(229, "US", "GA"),
    a(231, "US", "MI"),
    a(234, "US", "OH"),
    a(235, "US", "MO"),
    a(236, "CA", "BC"),
    a(239, "US", "FL"),
    a(240, "US", "MD"),
    a(242, "BS", ""),
    a(246, "BB", ""),
    a(248, "US", "MI"),
    a(249, "CA", "ON"),
    a(250, "CA", "BC"),
    a(251, "US", "AL"),
    a(252, "US", "NC"),
    a(253, "US", "WA"),
    a(254, "US", "TX"),
    a(256, "US", "AL"),
    a(257, "CA", "BC"),
    a(260, "US", "IN"),
    a(262, "US", "WI"),
    a(263, "CA", "QC"),
    a(264, "AI", ""),
    a(267, "US", "PA"),
    a(268, "AG", ""),
    a(269, "US", "MI"),
    a(270, "US", "KY"),
    a(272, "US", "PA"),
    a(274, "US", "WI"),
    a(276, "US", "VA"),
    a(279, "US", "CA"),
    a(281, "US", "TX"),
    a(283, "US", "OH"),
    a(284, "VG", ""),
    a(289, "CA", "ON"),
    a(301, "US", "MD"),
    a(302, "US", "DE"),
    a(303, "US", "CO"),
    a(304, "US", "WV"),
    a(305, "US", "FL"),
    a(306, "CA", "SK"),
    a(307, "US", "WY"),
    a(308, "US", "NE"),
    a(309, "US", "IL"),
    a(310, "US", "CA"),
    a(312, "US", "IL"),
    a(313, "US", "MI"),
    a(314, "US", "MO"),
    a(315, "US", "NY"),
    a(316, "US", "KS"),
    a(317, "US", "IN"),
    a(318, "US", "LA"),
    a(319, "US", "IA"),
    a(320, "US", "MN"),
    a(321, "US", "FL"),
    a(323, "US", "CA"),
    a(324, "US", "FL"),
    a(325, "US", "TX"),
    a(326, "US", "OH"),
    a(327, "US", "AR"),
    a(329, "US", "NY"),
    a(330, "US", "OH"),
    a(331, "US", "IL"),
    a(332, "US", "NY"),
    a(334, "US", "AL"),
    a(336, "US", "NC"),
    a(337, "US", "LA"),
    a(339, "US", "MA"),
    a(340, "VI", "VI"),
    a(341, "US", "CA"),
    a(343, "CA", "ON"),
    a(345, "KY", ""),
    a(346, "US", "TX"),
    a(347, "US", "NY"),
    a(350, "US", "CA"),
    a(351, "US", "MA"),
    a(352, "US", "FL"),
    a(353, "US", "WI"),
    a(354, "CA", "QC"),
    a(360, "US", "WA"),
    a(361, "US", "TX"),
    a(363, "US", "NY"),
    a(364, "US", "KY"),
    a(365, "CA", "ON"),
    a(367, "CA", "QC"),
    a(368, "CA", "AB"),
    a(369, "US", "CA"),
    a(380, "US", "OH"),
    a(382, "CA", "ON"),
    a(385, "US", "UT"),
    a(386, "US", "FL"),
    a(401, "US", "RI"),
    a(402, "US", "NE"),
    a(403, "CA", "AB"),
    a(404, "US", "GA"),
    a(405, "US", "OK"),
    a(406, "US", "MT"),
    a(407, "US", "FL"),
    a(408, "US", "CA"),
    a(409, "US", "TX"),
    a(410, "US", "MD"),
    a(412, "US", "PA"),
    a(413, "US", "MA"),
    a(414, "US", "WI"),
    a(415, "US", "CA"),
    a(416, "CA", "ON"),
    a(417, "US", "MO"),
    a(418, "CA", "QC"),
    a(419, "US", "OH"),
    a(423, "US", "TN"),
    a(424, "US", "CA"),
    a(425, "US", "WA"),
    a(428, "CA", "NB"),
    a(430, "US", "TX"),
    a(431, "CA", "MB"),
    a(432, "US", "TX"),
    a(434, "US", "VA"),
    a(435, "US", "UT"),
    a(436, "US", "OH"),
    a(437, "CA", "ON"),
    a(438, "CA", "QC"),
    a(440, "US", "OH"),
    a(441, "BM", ""),
    a(442, "US", "CA"),
    a(443, "US", "MD"),
    a(445, "US", "PA"),
    a(447, "US", "IL"),
    a(448, "US", "FL"),
    a(450, "CA", "QC"),
    a(458, "US", "OR"),
    a(463, "US", "IN"),
    a(464, "US", "IL"),
    a(468, "CA", "QC"),
    a(469, "US", "TX"),
    a(470, "US", "GA"),
    a(472, "US", "NC"),
    a(473, "GD", ""),
    a(474, "CA", "SK"),
    a(475, "US", "CT"),
    a(478, "US", "GA"),
    a(479, "US", "AR"),
    a(480, "US", "AZ"),
    a(484, "US", "PA"),
    a(501, "US", "AR"),
    a(502, "US", "KY"),
    a(503, "US", "OR"),
    a(504, "US", "LA"),
    a(505, "US", "NM"),
    a(506, "CA", "NB"),
    a(507, "US", "MN"),
    a(508, "US", "MA"),
    a(509, "US", "WA"),
    a(510, "US", "CA"),
    a(512, "US", "TX"),
    a(513, "US", "OH"),
    a(514, "CA", "QC"),
    a(515, "US", "IA"),
    a(516, "US", "NY"),
    a(517, "US", "MI"),
    a(518, "US", "NY"),
    a(519, "CA", "ON"),
    a(520, "US", "AZ"),
    a(530, "US", "CA"),
    a(531, "US", "NE"),
    a(534, "US", "WI"),
    a(539, "US", "OK"),
    a(540, "US", "VA"),
    a(541, "US", "OR"),
    a(548, "CA", "ON"),
    a(551, "US", "NJ"),
    a(557, "US", "MO"),
    a(559, "US", "CA"),
    a(561, "US", "FL"),
    a(562, "US", "CA"),
    a(563, "US", "IA"),
    a(564, "US", "WA"),
    a(567, "US", "OH"),
    a(570, "US", "PA"),
    a(571, "US", "VA"),
    a(572, "US", "OK"),
    a(573, "US", "MO"),
    a(574, "US", "IN"),
    a(575, "US", "NM"),
    a(579, "CA", "QC"),
    a(580, "US", "OK"),
    a(581, "CA", "QC"),
    a(582, "US", "PA"),
    a(584, "CA", "MB"),
    a(585, "US", "NY"),
    a(586, "US", "MI"),
    a(587, "CA", "AB"),
    a(601, "US", "MS"),
    a(602, "US", "AZ"),
    a(603, "US", "NH"),
    a(604, "CA", "BC"),
    a(605, "US", "SD"),
    a(606, "US", "KY"),
    a(607, "US", "NY"),
    a(608, "US", "WI"),
    a(609, "US", "NJ"),
    a(610, "US", "PA"),
    a(612, "US", "MN"),
    a(613, "CA", "ON"),
    a(614, "US", "OH"),
    a(615, "US", "TN"),
    a(616, "US", "MI"),
    a(617, "US", "MA"),
    a(618, "US", "IL"),
    a(619, "US", "CA"),
    a(620, "US", "KS"),
    a(623, "US", "AZ"),
    a(624, "US", "NY"),
    a(626, "US", "CA"),
    a(628, "US", "CA"),
    a(629, "US", "TN"),
    a(630, "US", "IL"),
    a(631, "US", "NY"),
    a(636, "US", "MO"),
    a(639, "CA", "SK"),
    a(640, "US", "NJ"),
    a(641, "US", "IA"),
    a(645, "US", "FL"),
    a(646, "US", "NY"),
    a(647, "CA", "ON"),
    a(649, "TC", ""),
    a(650, "US", "CA"),
    a(651, "US", "MN"),
    a(656, "US", "FL"),
    a(657, "US", "CA"),
    a(658, "JM", ""),
    a(659, "US", "AL"),
    a(660, "US", "MO"),
    a(661, "US", "CA"),
    a(662, "US", "MS"),
    a(664, "MS", ""),
    a(667, "US", "MD"),
    a(669, "US", "CA"),
    a(670, "MP", "MP"),
    a(671, "GU", "GU"),
    a(672, "CA", "BC"),
    a(678, "US", "GA"),
    a(679, "US", "MI"),
    a(680, "US", "NY"),
    a(681, "US", "WV"),
    a(682, "US", "TX"),
    a(683, "CA", "ON"),
    a(684, "AS", "AS"),
    a(686, "US", "VA"),
    a(689, "US", "FL"),
    a(701, "US", "ND"),
    a(702, "US", "NV"),
    a(703, "US", "VA"),
    a(704, "US", "NC"),
    a(705, "CA", "ON"),
    a(706, "US", "GA"),
    a(707, "US", "CA"),
    a(708, "US", "IL"),
    a(709, "CA", "NL"),
    a(712, "US", "IA"),
    a(713, "US", "TX"),
    a(714, "US", "CA"),
    a(715, "US", "WI"),
    a(716, "US", "NY"),
    a(717, "US", "PA"),
    a(718, "US", "NY"),
    a(719, "US", "CO"),
    a(720, "US", "CO"),
    a(721, "SX", ""),
    a(724, "US", "PA"),
    a(725, "US", "NV"),
    a(726, "US", "TX"),
    a(727, "US", "FL"),
    a(728, "US", "FL"),
    a(730, "US", "IL"),
    a(731, "US", "TN"),
    a(732, "US", "NJ"),
    a(734, "US", "MI"),
    a(737, "US", "TX"),
    a(738, "US", "CA"),
    a(740, "US", "OH"),
    a(742, "CA", "ON"),
    a(743, "US", "NC"),
    a(747, "US", "CA"),
    a(748, "US", "CO"),
    a(753, "CA", "ON"),
    a(754, "US", "FL"),
    a(757, "US", "VA"),
    a(758, "LC", ""),
    a(760, "US", "CA"),
    a(762, "US", "GA"),
    a(763, "US", "MN"),
    a(765, "US", "IN"),
    a(767, "DM", ""),
    a(769, "US", "MS"),
    a(770, "US", "GA"),
    a(771, "US", "DC"),
    a(772, "US", "FL"),
    a(773, "US", "IL"),
    a(774, "US", "MA"),
    a(775, "US", "NV"),
    a(778, "CA", "BC"),
    a(779, "US", "IL"),
    a(780, "CA", "AB"),
    a(781, "US", "MA"),
    a(782, "CA", ""),
    a(784, "VC", ""),
    a(785, "US", "KS"),
    a(786, "US", "FL"),
    a(787, "PR", "PR"),
    a(801, "US", "UT"),
    a(802, "US", "VT"),
    a(803, "US", "SC"),
    a(804, "US", "VA"),
    a(805, "US", "CA"),
    a(806, "US", "TX"),
    a(807, "CA", "ON"),
    a(808, "US", "HI"),
    a(809, "DO", ""),
    a(810, "US", "MI"),
    a(812, "US", "IN"),
    a(813, "US", "FL"),
    a(814, "US", "PA"),
    a(815, "US", "IL"),
    a(816, "US", "MO"),
    a(817, "US", "TX"),
    a(818, "US", "CA"),
    a(819, "CA", "QC"),
    a(820, "US", "CA"),
    a(821, "US", "SC"),
    a(825, "CA", "AB"),
    a(826, "US", "VA"),
    a(828, "US", "NC"),
    a(829, "DO", ""),
    a(830, "US", "TX"),
    a(831, "US", "CA"),
    a(832, "US", "TX"),
    a(835, "US", "PA"),
    a(838, "US", "NY"),
    a(839, "US", "SC"),
    a(840, "US", "CA"),
    a(843, "US", "SC"),
    a(845, "US", "NY"),
    a(847, "US", "IL"),
    a(848, "US", "NJ"),
    a(849, "DO", ""),
    a(850, "US", "FL"),
    a(854, "US", "SC"),
    a(856, "US", "NJ"),
    a(857, "US", "MA"),
    a(858, "US", "CA"),
    a(859, "US", "KY"),
    a(860, "US", "CT"),
    a(862, "US", "NJ"),
    a(863, "US", "FL"),
    a(864, "US", "SC"),
    a(865, "US", "TN"),
    a(867, "CA", ""),
    a(868, "TT", ""),
    a(869, "KN", ""),
    a(870, "US", "AR"),
    a(872, "US", "IL"),
    a(873, "CA", "QC"),
    a(876, "JM", ""),
    a(878, "US", "PA"),
    a(879, "CA", "NL"),
    a(901, "US", "TN"),
    a(902, "CA", ""),
    a(903, "US", "TX"),
    a(904, "US", "FL"),
    a(905, "CA", "ON"),
    a(906, "US", "MI"),
    a(907, "US", "AK"),
    a(908, "US", "NJ"),
    a(909, "US", "CA"),
    a(910, "US", "NC"),
    a(912, "US", "GA"),
    a(913, "US", "KS"),
    a(914, "US", "NY"),
    a(915, "US", "TX"),
    a(916, "US", "CA"),
    a(917, "US", "NY"),
    a(918, "US", "OK"),
    a(919, "US", "NC"),
    a(920, "US", "WI"),
    a(925, "US", "CA"),
    a(928, "US", "AZ"),
    a(929, "US", "NY"),
    a(930, "US", "IN"),
    a(931, "US", "TN"),
    a(934, "US", "NY"),
    a(936, "US", "TX"),
    a(937, "US", "OH"),
    a(938, "US", "AL"),
    a(939, "PR", "PR"),
    a(940, "US", "TX"),
    a(941, "US", "FL"),
    a(942, "CA", "ON"),
    a(943, "US", "GA"),
    a(945, "US", "TX"),
    a(947, "US", "MI"),
    a(948, "US", "VA"),
    a(949, "US", "CA"),
    a(951, "US", "CA"),
    a(952, "US", "MN"),
    a(954, "US", "FL"),
    a(956, "US", "TX"),
    a(959, "US", "CT"),
    a(970, "US", "CO"),
    a(971, "US", "OR"),
    a(972, "US", "TX"),
    a(973, "US", "NJ"),
    a(975, "US", "MO"),
    a(978, "US", "MA"),
    a(979, "US", "TX"),
    a(980, "US", "NC"),
    a(983, "US", "CO"),
    a(984, "US", "NC"),
    a(985, "US", "LA"),
    a(986, "US", "ID"),
    a(989, "US", "MI"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(AREAS.windows(2).all(|w| w[0].npa < w[1].npa));
        assert!(REGION_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COUNTRY_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(SHARED_PLACES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_area_is_well_formed() {
        for a in AREAS {
            assert!((200..=999).contains(&a.npa), "{a:?}");
            // N11 codes are service codes, never area codes.
            assert_ne!(a.npa % 100, 11, "{a:?}");
            assert!(lookup_str(COUNTRY_NAMES, a.country).is_some(), "{a:?}");
            if !a.region.is_empty() {
                assert!(region_name(a.region).is_some(), "{a:?}");
            } else {
                assert!(a.country != "US", "{a:?}");
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(area(415).map(|a| (a.country, a.region)), Some(("US", "CA")));
        assert_eq!(area(416).map(|a| (a.country, a.region)), Some(("CA", "ON")));
        assert_eq!(area(876).map(|a| a.country), Some("JM"));
        assert_eq!(area(415).map(NanpArea::place), Some("California"));
        assert_eq!(
            area(902).map(NanpArea::place),
            Some("Nova Scotia and Prince Edward Island")
        );
        assert_eq!(area(876).map(NanpArea::place), Some("Jamaica"));
        assert_eq!(classify_npa(800), NpaKind::TollFree);
        assert_eq!(classify_npa(900), NpaKind::Premium);
        assert_eq!(classify_npa(999), NpaKind::Unassigned);
        assert_eq!(npa_of("+14155550100"), Some(415));
        assert_eq!(npa_of("+442079460000"), None);
    }

    /// The table's countries agree with the `phonenumber` metadata wherever the
    /// metadata knows the area code (it may lag behind new overlays).
    #[test]
    fn countries_agree_with_the_metadata() {
        use phonenumber::metadata::DATABASE;
        let mut unknown = Vec::new();
        for a in AREAS {
            let mut seen = None;
            for nxx in [234, 345, 456, 567, 678, 789, 823, 932] {
                let e164 = format!("+1{}{nxx}4567", a.npa);
                let Ok(p) = phonenumber::parse(None, &e164) else {
                    continue;
                };
                if p.number_type(&DATABASE) == phonenumber::Type::Unknown {
                    continue;
                }
                if let Some(meta) = p.metadata(&DATABASE) {
                    seen = Some(meta.id().to_string());
                    break;
                }
            }
            match seen {
                Some(id) => assert_eq!(id, a.country, "{a:?}"),
                None => unknown.push(a.npa),
            }
        }
        // Some Caribbean plans only allow a few central office codes, and the
        // metadata lags behind the newest overlays (436, 624, 679 in 2025).
        assert!(unknown.len() < 15, "metadata knows none of {unknown:?}");
    }
}
