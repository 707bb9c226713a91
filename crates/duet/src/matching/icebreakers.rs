//! Icebreakers: the prompt a new room opens with, drawn at random from the interests
//! the two people share (or from general prompts when they share none). Every interest
//! of the vocabulary has at least three prompts, in Vietnamese and English.

use rand::seq::SliceRandom;
use serde::Serialize;
use utoipa::ToSchema;

/// One prompt in both languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Icebreaker {
    /// The interest it was drawn from, or `general`.
    pub topic: &'static str,
    pub vi: &'static str,
    pub en: &'static str,
}

const fn p(topic: &'static str, vi: &'static str, en: &'static str) -> Icebreaker {
    Icebreaker { topic, vi, en }
}

const PROMPTS: &[Icebreaker] = &[
    p("gym", "Bài tập nào bạn thích nhất ở phòng gym?", "What is your favourite exercise at the gym?"),
    p("gym", "Bạn tập buổi sáng hay buổi tối?", "Are you a morning or an evening trainer?"),
    p("gym", "Mục tiêu tập luyện hiện tại của bạn là gì?", "What are you training for right now?"),
    p("dance", "Bạn thích nhảy thể loại nào?", "Which dance style do you enjoy most?"),
    p(
        "dance",
        "Bài hát nào khiến bạn muốn nhảy ngay lập tức?",
        "Which song makes you want to dance right away?",
    ),
    p("dance", "Bạn đã từng học nhảy ở đâu chưa?", "Have you ever taken dance classes?"),
    p("photo", "Bức ảnh đẹp nhất bạn từng chụp là gì?", "What is the best photo you have ever taken?"),
    p("photo", "Bạn chụp bằng điện thoại hay máy ảnh?", "Do you shoot with a phone or a camera?"),
    p("photo", "Nơi nào bạn muốn chụp ảnh nhất?", "Where would you most like to take pictures?"),
    p(
        "coffee",
        "Bạn uống cà phê thế nào: đen, sữa hay bạc xỉu?",
        "How do you take your coffee: black, with milk, or bạc xỉu?",
    ),
    p(
        "coffee",
        "Quán cà phê yêu thích của bạn trông như thế nào?",
        "What does your favourite coffee shop look like?",
    ),
    p("coffee", "Một ngày bạn uống mấy ly cà phê?", "How many coffees do you have in a day?"),
    p("travel", "Chuyến đi đáng nhớ nhất của bạn là đâu?", "What is the most memorable trip you have taken?"),
    p(
        "travel",
        "Nếu được đi ngay ngày mai, bạn sẽ đi đâu?",
        "If you could leave tomorrow, where would you go?",
    ),
    p("travel", "Bạn thích đi biển hay lên núi?", "Beach or mountains?"),
    p("games", "Trò chơi nào bạn có thể chơi mãi không chán?", "Which game could you play forever?"),
    p("games", "Bạn chơi trên máy tính, điện thoại hay máy console?", "PC, phone or console?"),
    p("games", "Trò chơi đầu tiên bạn mê là gì?", "What was the first game you were hooked on?"),
    p("reading", "Cuốn sách gần đây nhất bạn đọc là gì?", "What is the last book you read?"),
    p("reading", "Cuốn sách nào bạn muốn mọi người đều đọc?", "Which book do you wish everyone would read?"),
    p("reading", "Bạn thích sách giấy hay sách điện tử?", "Paper books or e-books?"),
    p("music", "Bài hát bạn nghe nhiều nhất tuần này là gì?", "Which song have you played most this week?"),
    p("music", "Ca sĩ nào bạn muốn đi xem biểu diễn nhất?", "Which artist would you most like to see live?"),
    p("music", "Bạn có chơi nhạc cụ nào không?", "Do you play an instrument?"),
    p(
        "volunteering",
        "Hoạt động tình nguyện nào đáng nhớ nhất với bạn?",
        "What is the most memorable volunteering you have done?",
    ),
    p(
        "volunteering",
        "Bạn muốn giúp đỡ cộng đồng theo cách nào?",
        "How would you most like to help your community?",
    ),
    p("volunteering", "Điều gì khiến bạn bắt đầu đi tình nguyện?", "What got you started volunteering?"),
    p("film", "Bộ phim nào bạn có thể xem đi xem lại?", "Which film could you watch again and again?"),
    p("film", "Bạn thích phim rạp hay xem ở nhà?", "Cinema or sofa?"),
    p("film", "Bộ phim gần đây nhất làm bạn bất ngờ là gì?", "Which recent film surprised you?"),
    p(
        "hiking",
        "Cung đường leo núi đẹp nhất bạn từng đi là đâu?",
        "What is the most beautiful hike you have done?",
    ),
    p("hiking", "Bạn thích leo núi một ngày hay cắm trại qua đêm?", "Day hikes or overnight camping?"),
    p("hiking", "Đỉnh núi nào bạn mơ được chinh phục?", "Which summit do you dream of reaching?"),
    p("art", "Bạn thích vẽ, nặn hay ngắm tranh?", "Do you like to paint, sculpt, or look at art?"),
    p("art", "Nghệ sĩ nào truyền cảm hứng cho bạn?", "Which artist inspires you?"),
    p("art", "Tác phẩm nghệ thuật nào làm bạn nhớ mãi?", "Which work of art stayed with you?"),
    p("food", "Món ăn nào bạn có thể ăn mỗi ngày?", "Which dish could you eat every day?"),
    p("food", "Bạn thích tự nấu hay đi ăn ngoài?", "Cooking at home or eating out?"),
    p(
        "food",
        "Món ngon nhất bạn từng ăn khi đi xa là gì?",
        "What is the best thing you have eaten on a trip?",
    ),
    p("spirituality", "Điều gì giúp bạn cảm thấy bình yên?", "What helps you feel at peace?"),
    p("spirituality", "Bạn có thói quen thiền hay cầu nguyện không?", "Do you meditate or pray?"),
    p("spirituality", "Một điều bạn biết ơn hôm nay là gì?", "What is one thing you are grateful for today?"),
    p("fashion", "Phong cách ăn mặc của bạn là gì?", "How would you describe your style?"),
    p("fashion", "Món đồ nào trong tủ bạn yêu thích nhất?", "What is your favourite piece in your wardrobe?"),
    p("fashion", "Bạn mua sắm ở chợ, cửa hàng hay trên mạng?", "Markets, shops or online?"),
    p("general", "Điều gì làm bạn cười nhiều nhất tuần này?", "What made you laugh most this week?"),
    p(
        "general",
        "Một ngày cuối tuần lý tưởng của bạn trông như thế nào?",
        "What does your ideal weekend look like?",
    ),
    p("general", "Bạn đang mong chờ điều gì nhất?", "What are you looking forward to most?"),
];

/// The prompts of one topic (an interest id, or `general`).
pub fn prompts(topic: &str) -> impl Iterator<Item = &'static Icebreaker> + '_ {
    PROMPTS.iter().filter(move |p| p.topic == topic)
}

/// A random prompt from the shared interests, or a general one when none are shared.
pub fn draw(common_interests: &[&str], rng: &mut impl rand::Rng) -> Icebreaker {
    let pool: Vec<&Icebreaker> = common_interests.iter().flat_map(|topic| prompts(topic)).collect();
    let pool = if pool.is_empty() { prompts("general").collect() } else { pool };
    **pool.choose(rng).expect("there are general prompts")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::vocabulary::INTERESTS;

    #[test]
    fn every_interest_has_at_least_three_prompts_in_both_languages() {
        for interest in INTERESTS.iter().map(|t| t.id).chain(["general"]) {
            let prompts: Vec<_> = prompts(interest).collect();
            assert!(prompts.len() >= 3, "{interest} has {} prompts", prompts.len());
            assert!(prompts.iter().all(|p| !p.vi.is_empty() && !p.en.is_empty()));
        }
        assert!(PROMPTS.iter().all(|p| p.topic == "general" || INTERESTS.iter().any(|t| t.id == p.topic)));
    }

    #[test]
    fn prompts_come_from_shared_interests() {
        let mut rng = rand::thread_rng();
        for _ in 0..50 {
            let drawn = draw(&["coffee", "film"], &mut rng);
            assert!(drawn.topic == "coffee" || drawn.topic == "film");
        }
        assert_eq!(draw(&[], &mut rng).topic, "general");
    }
}
