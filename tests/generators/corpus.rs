//! Six varied topics of our own for the offline generator's quality gate: sciences,
//! humanities, programming, economics, and two without source text.

use quizmaster::domain::Topic;
use uuid::Uuid;

pub struct Sample {
    pub title: &'static str,
    pub description: Option<&'static str>,
    pub source: Option<&'static str>,
}

impl Sample {
    pub fn topic(&self) -> Topic {
        Topic {
            id: Uuid::nil(),
            title: self.title.into(),
            description: self.description.map(Into::into),
            source_text: self.source.map(Into::into),
            created_at: 0,
            updated_at: 0,
        }
    }
}

pub const CORPUS: &[Sample] = &[
    Sample {
        title: "Photosynthesis",
        description: Some("How plants turn light into chemical energy"),
        source: Some(
            "# Light-dependent reactions\n\
             Chlorophyll absorbs light energy in the thylakoid membranes. The absorbed energy \
             splits water molecules, releasing oxygen as a by-product. The electron transport \
             chain pumps protons and drives ATP synthase, which makes ATP, while NADPH carries \
             electrons to the Calvin cycle.\n\
             # The Calvin cycle\n\
             In the stroma, the enzyme RuBisCO fixes carbon dioxide to ribulose bisphosphate. \
             Carbon fixation is followed by reduction, in which ATP and NADPH turn \
             3-phosphoglycerate into sugar. The cycle regenerates ribulose bisphosphate.\n\
             # Limiting factors\n\
             Light intensity, carbon dioxide concentration and temperature limit the rate of \
             photosynthesis. Photorespiration lowers efficiency when RuBisCO binds oxygen \
             instead of carbon dioxide. C4 plants and CAM plants reduce photorespiration.",
        ),
    },
    Sample {
        title: "Hash tables",
        description: Some("Constant-time lookup with hashing, for a first data structures course"),
        source: Some(
            "# Hash functions\n\
             A hash function maps keys to bucket indices. Good hash functions spread keys \
             uniformly and are fast to compute. The load factor is the number of stored keys \
             divided by the number of buckets.\n\
             # Collision resolution\n\
             Two keys that map to the same bucket collide. Separate chaining stores colliding \
             keys in a linked list per bucket. Open addressing probes other buckets: linear \
             probing checks the next bucket, quadratic probing jumps by squares, and double \
             hashing uses a second hash function.\n\
             # Resizing\n\
             When the load factor exceeds a threshold the table is resized and every key is \
             rehashed. Amortized analysis shows that insertion stays constant time on \
             average. Worst-case lookup degrades to linear time when many keys collide.",
        ),
    },
    Sample {
        title: "Supply and demand",
        description: Some("Introductory microeconomics: how markets set prices"),
        source: Some(
            "# Demand\n\
             The demand curve slopes downward: as the price rises, the quantity demanded \
             falls. Income, preferences and the prices of substitute goods shift the demand \
             curve.\n\
             # Supply\n\
             The supply curve slopes upward because higher prices cover higher marginal \
             costs. Input prices and technology shift the supply curve.\n\
             # Market equilibrium\n\
             The equilibrium price is where the quantity supplied equals the quantity \
             demanded. A price ceiling below equilibrium causes a shortage; a price floor \
             above it causes a surplus. Price elasticity of demand measures how strongly the \
             quantity demanded responds to a price change. Consumer surplus and producer \
             surplus measure the gains from trade.",
        ),
    },
    Sample {
        title: "The French Revolution",
        description: Some("Causes, course and legacy of the revolution in France, 1789–1799"),
        source: Some(
            "# Causes\n\
             Royal debt, a rigid estate system and poor harvests fed discontent. The Estates \
             General met in 1789 for the first time since 1614, and the Third Estate declared \
             itself the National Assembly.\n\
             # Course of the revolution\n\
             The storming of the Bastille became a symbol of popular revolt. The Declaration \
             of the Rights of Man and of the Citizen proclaimed liberty and equality before \
             the law. The monarchy fell in 1792, and the Reign of Terror under the Committee \
             of Public Safety executed thousands of suspected enemies.\n\
             # Legacy\n\
             Napoleon Bonaparte seized power in 1799. The revolution spread the ideas of \
             popular sovereignty and civil rights across Europe and shaped modern \
             nationalism.",
        ),
    },
    Sample {
        title: "Plate tectonics",
        description: Some(
            "How the movement of lithospheric plates shapes earthquakes, volcanoes and \
             mountain ranges",
        ),
        source: None,
    },
    Sample {
        title: "Sonnets",
        description: None,
        source: None,
    },
];
