//! What the bots say: short, everyday lines in Vietnamese and English, by moment of
//! the conversation. The bots pick among them at random; a line never carries anything
//! from a person's message back, so a bot repeats nobody.

use rand::seq::SliceRandom;
use rand::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    /// The language of a line: Vietnamese when it has a Vietnamese letter or word.
    pub fn of(text: &str) -> Lang {
        let lower = text.to_lowercase();
        let vietnamese_letter = lower
            .chars()
            .any(|c| "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ".contains(c));
        // Vietnamese typed without its accents.
        let vietnamese_word = lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| ["chao", "ban", "minh", "khong", "nha", "vay", "dang", "lam"].contains(&w));
        if vietnamese_letter || vietnamese_word {
            Lang::Vi
        } else {
            Lang::En
        }
    }
}

/// The moments at which a bot speaks.
#[derive(Clone, Copy, Debug)]
pub enum Moment {
    Greeting,
    /// Something to say when nobody has spoken for a while.
    Opener,
    /// An answer to a question.
    Answer,
    /// A reaction to something said that was not a question.
    Reaction,
    /// After a round that sharpened the photos.
    Reveal,
    /// After both set keep.
    Kept,
    Goodbye,
}

const VI_GREETING: &[&str] = &[
    "Chào bạn 👋",
    "Hi bạn, hôm nay thế nào?",
    "Chào nha, mình mới vào app",
    "Xin chào! Bạn ở đâu vậy?",
    "Hello hello 😄",
];
const EN_GREETING: &[&str] =
    &["Hi there 👋", "Hey! How's your day going?", "Hello :) first time here", "Hi! Where are you from?"];
const VI_OPENER: &[&str] = &[
    "Cuối tuần bạn hay làm gì?",
    "Bạn thích cà phê hay trà sữa hơn?",
    "Gần đây bạn có xem phim gì hay không?",
    "Mình vừa đi làm về, mệt ghê",
    "Bạn thích đi du lịch ở đâu nhất?",
    "Hôm nay trời Sài Gòn nóng quá",
    "Bạn nghe nhạc gì dạo này?",
    "Bạn đang học hay đi làm rồi?",
];
const EN_OPENER: &[&str] = &[
    "What do you usually do on weekends?",
    "Coffee or tea?",
    "Seen any good films lately?",
    "Just got home from work, so tired haha",
    "Where's the best place you've travelled to?",
    "What music are you into these days?",
    "Do you study or work?",
];
const VI_ANSWER: &[&str] = &[
    "Mình hay đi cà phê với bạn bè",
    "Chắc là cà phê sữa đá ☕",
    "Mình thích Đà Lạt nhất, mát mẻ",
    "Mình làm văn phòng, cũng bình thường thôi",
    "Ừm để mình nghĩ đã… chắc là có",
    "Dạo này mình nghe Đen Vâu nhiều",
    "Không hẳn, nhưng mình muốn thử",
    "Mình ở Hà Nội nè",
];
const EN_ANSWER: &[&str] = &[
    "Mostly coffee with friends",
    "Coffee, always ☕",
    "Da Lat, it's so cool up there",
    "I work in an office, nothing exciting",
    "Hmm let me think… probably yes",
    "Not really, but I'd like to try",
    "I'm in Saigon",
];
const VI_REACTION: &[&str] = &[
    "Haha thật á 😂",
    "Hay ghê",
    "Mình cũng vậy nè",
    "Ồ nghe thú vị đó",
    "Công nhận",
    "Vậy hả, kể thêm đi",
    "😄",
    "Ok nè",
];
const EN_REACTION: &[&str] =
    &["Haha really? 😂", "That's cool", "Same here", "Oh interesting", "True", "Tell me more", "😄", "Nice"];
const VI_REVEAL: &[&str] = &["Ồ thấy rõ hơn rồi 😳", "Ảnh bạn dễ thương ghê", "Haha giờ mới thấy mặt"];
const EN_REVEAL: &[&str] = &["Oh, clearer now 😳", "Nice photo!", "Haha finally a face"];
const VI_KEPT: &[&str] = &["Vui ghê, mình giữ phòng này nha", "Nói chuyện với bạn vui đó"];
const EN_KEPT: &[&str] = &["Fun, let's keep chatting", "I'm enjoying this chat"];
const VI_GOODBYE: &[&str] =
    &["Mình đi đây, nói chuyện vui nha 👋", "Bye bạn, chúc ngủ ngon", "Mình phải đi rồi, bye nha"];
const EN_GOODBYE: &[&str] = &["Gotta go, nice chatting 👋", "Bye, have a good night", "I have to run, bye!"];

/// A line for `moment` in `lang`.
pub fn line(rng: &mut impl Rng, lang: Lang, moment: Moment) -> &'static str {
    let choices = match (lang, moment) {
        (Lang::Vi, Moment::Greeting) => VI_GREETING,
        (Lang::En, Moment::Greeting) => EN_GREETING,
        (Lang::Vi, Moment::Opener) => VI_OPENER,
        (Lang::En, Moment::Opener) => EN_OPENER,
        (Lang::Vi, Moment::Answer) => VI_ANSWER,
        (Lang::En, Moment::Answer) => EN_ANSWER,
        (Lang::Vi, Moment::Reaction) => VI_REACTION,
        (Lang::En, Moment::Reaction) => EN_REACTION,
        (Lang::Vi, Moment::Reveal) => VI_REVEAL,
        (Lang::En, Moment::Reveal) => EN_REVEAL,
        (Lang::Vi, Moment::Kept) => VI_KEPT,
        (Lang::En, Moment::Kept) => EN_KEPT,
        (Lang::Vi, Moment::Goodbye) => VI_GOODBYE,
        (Lang::En, Moment::Goodbye) => EN_GOODBYE,
    };
    choices.choose(rng).copied().unwrap_or("🙂")
}

/// An answer to what the partner said: an answer to a question, else a reaction,
/// sometimes followed by a question of its own.
pub fn reply(rng: &mut impl Rng, lang: Lang, said: &str) -> String {
    if said.trim_end().ends_with('?') {
        return line(rng, lang, Moment::Answer).to_owned();
    }
    let reaction = line(rng, lang, Moment::Reaction);
    if rng.gen_bool(0.35) {
        format!("{reaction}. {}", line(rng, lang, Moment::Opener))
    } else {
        reaction.to_owned()
    }
}
